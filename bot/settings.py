"""Process settings from the environment and an optional `.env` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

SLACK_PUBLIC_API = "https://slack.com/api/"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True)

    DATABASE_URL: str = "sqlite:///pulsebridge.db"
    SLACK_BOT_TOKEN: str | None = None
    SLACK_SIGNING_SECRET: str | None = None
    SLACK_APP_TOKEN: str | None = None
    SLACK_API_URL: str = SLACK_PUBLIC_API
    MICROSOFT_APP_ID: str | None = None
    MICROSOFT_APP_PASSWORD: str | None = None
    MICROSOFT_APP_TYPE: str = "MultiTenant"
    MICROSOFT_APP_TENANT_ID: str | None = None
    PULSEBRIDGE_CONFIG: Path | None = None
    SLACK_MAX_RETRIES: int = Field(default=5, ge=0, le=20)
    PULSEBRIDGE_SCHEDULER: bool = True
    # When the directory sync runs (UTC crontab; 6 fields put seconds first, for tests and demos).
    PULSEBRIDGE_DIRECTORY_SYNC_CRON: str = "17 3 * * *"
    # With PostgreSQL, replicas elect the scheduler's runner by a lease of this many seconds; a crashed
    # leader is replaced within it plus a second (so well within 60 s).
    PULSEBRIDGE_LEADER_LEASE_SECONDS: float = Field(default=30.0, ge=0.3, le=45)
    # Seconds a stopping process (SIGTERM) waits for handlers, jobs and deliveries in flight.
    PULSEBRIDGE_SHUTDOWN_GRACE: float = Field(default=20.0, ge=0, le=600)
    PULSEBRIDGE_SECRET_KEY: str | None = Field(default=None, min_length=32)
    PULSEBRIDGE_SEND_RATE: float = Field(default=10.0, gt=0, le=1000)
    FEEDBACK_WEBHOOK_SECRET: str | None = None

    @field_validator("FEEDBACK_WEBHOOK_SECRET")
    @classmethod
    def _feedback_secret(cls, value: str | None) -> str | None:
        if value and len(value) < 16:
            raise ValueError("use at least 16 random characters (it signs every feedback webhook)")
        return value or None

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("expected a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql:"):
            # psycopg 3 is the driver we ship; SQLAlchemy's bare postgresql:// means psycopg2.
            value = "postgresql+psycopg:" + value[len("postgresql:") :]
        return value

    @field_validator("PULSEBRIDGE_DIRECTORY_SYNC_CRON")
    @classmethod
    def _sync_cron(cls, value: str) -> str:
        from bot.scheduler import cron_fields

        cron_fields(value)
        return value

    @field_validator("SLACK_BOT_TOKEN")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        if value and not value.startswith("xoxb-"):
            raise ValueError("expected a bot token starting with xoxb-")
        return value or None

    @field_validator("SLACK_APP_TOKEN")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value and not value.startswith("xapp-"):
            raise ValueError("expected an app-level token starting with xapp- (Socket Mode)")
        return value or None

    @field_validator("SLACK_API_URL")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("MICROSOFT_APP_TYPE")
    @classmethod
    def _app_type(cls, value: str) -> str:
        allowed = {"multitenant": "MultiTenant", "singletenant": "SingleTenant", "userassignedmsi": "UserAssignedMSI"}
        if value.lower() not in allowed:
            raise ValueError("expected MultiTenant, SingleTenant or UserAssignedMSI")
        return allowed[value.lower()]

    @field_validator("PULSEBRIDGE_CONFIG")
    @classmethod
    def _config_path(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"expected a readable YAML file, but {value} does not exist")
        return value

    @model_validator(mode="after")
    def _combinations(self) -> Settings:
        if self.SLACK_BOT_TOKEN and not self.SLACK_APP_TOKEN and not self.SLACK_SIGNING_SECRET:
            raise ValueError(
                "SLACK_SIGNING_SECRET: required when SLACK_BOT_TOKEN is set (HTTP mode); or set SLACK_APP_TOKEN for Socket Mode"
            )
        if (self.SLACK_SIGNING_SECRET or self.SLACK_APP_TOKEN) and not self.SLACK_BOT_TOKEN:
            raise ValueError("SLACK_BOT_TOKEN: required when Slack is configured (expected a token starting with xoxb-)")
        if self.MICROSOFT_APP_ID and not self.MICROSOFT_APP_PASSWORD and self.MICROSOFT_APP_TYPE != "UserAssignedMSI":
            raise ValueError("MICROSOFT_APP_PASSWORD: required when MICROSOFT_APP_ID is set")
        if self.MICROSOFT_APP_TYPE == "SingleTenant" and self.MICROSOFT_APP_ID and not self.MICROSOFT_APP_TENANT_ID:
            raise ValueError("MICROSOFT_APP_TENANT_ID: required when MICROSOFT_APP_TYPE is SingleTenant")
        return self

    @property
    def slack_enabled(self) -> bool:
        return bool(self.SLACK_BOT_TOKEN)


def load_settings(**overrides) -> Settings:
    """Settings or a ConfigError whose message is one line naming the variable and what it expects."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: {message}" if where else message) from None
