"""Process settings from the environment and an optional `.env` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.kernel.errors import ConfigError
from bot.kernel.crontab import cron_fields

SLACK_PUBLIC_API = "https://slack.com/api/"
# Hosts of the Bot Framework Connector that Teams names as an activity's serviceUrl: the public cloud
# (its regional variants /amer/, /emea/, /apac/, /in/, /teams/ are paths on smba.trafficmanager.net),
# GCC, GCC High and DoD. Nothing is ever sent to a serviceUrl on another host.
TEAMS_SERVICE_HOSTS = (
    "smba.trafficmanager.net",
    "smba.infra.gcc.teams.microsoft.com",
    "smba.infra.gov.teams.microsoft.us",
    "smba.infra.dod.teams.microsoft.us",
)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost (brackets of an IPv6 literal allowed)."""
    import ipaddress

    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


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
    # With PostgreSQL, an acknowledged request whose processing started this many seconds ago and
    # never finished belongs to a replica that stopped: another process takes it up (at its start
    # and every minute). SQLite is one process: at start-up every unfinished request is its own.
    PULSEBRIDGE_RESUME_AFTER_SECONDS: float = Field(default=300.0, ge=1, le=86400)
    PULSEBRIDGE_SECRET_KEY: str | None = Field(default=None, min_length=32)
    PULSEBRIDGE_SEND_RATE: float = Field(default=10.0, gt=0, le=1000)
    FEEDBACK_WEBHOOK_SECRET: str | None = None
    # Teams (see docs/security.md). With MICROSOFT_APP_ID every activity's JWT is checked, its tenant
    # must be one of these (comma-separated; MICROSOFT_APP_TENANT_ID counts too) and its serviceUrl
    # must be on one of PULSEBRIDGE_TEAMS_SERVICE_HOSTS (host, host:port or *.domain).
    PULSEBRIDGE_TEAMS_TENANTS: str | None = None
    PULSEBRIDGE_TEAMS_SERVICE_HOSTS: str = ",".join(TEAMS_SERVICE_HOSTS)
    # Accept UNSIGNED Teams activities (Bot Framework Emulator, tests). Refused with credentials and
    # unless the server listens on loopback only.
    PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE: bool = False
    # Where the channel's signing keys are published and the issuer they sign as; only for a private
    # cloud or a test's own key server. Unset means Microsoft's public (or government) cloud.
    MICROSOFT_OPENID_METADATA_URL: str | None = None
    MICROSOFT_TOKEN_ISSUER: str | None = None
    # /metrics is served on its own listener, never on the public port: host:port, or "off".
    PULSEBRIDGE_METRICS_LISTEN: str = "127.0.0.1:9464"
    # Required when PULSEBRIDGE_METRICS_LISTEN is not loopback: scrapers send "Authorization: Bearer <token>".
    PULSEBRIDGE_METRICS_TOKEN: str | None = Field(default=None, min_length=24)

    @field_validator("PULSEBRIDGE_METRICS_LISTEN")
    @classmethod
    def _metrics_listen(cls, value: str) -> str:
        value = value.strip()
        if value.lower() in ("off", ""):
            return "off"
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError("expected host:port (e.g. 127.0.0.1:9464) or off")
        return value

    @field_validator("PULSEBRIDGE_TEAMS_SERVICE_HOSTS")
    @classmethod
    def _service_hosts(cls, value: str) -> str:
        hosts = _csv(value)
        if not hosts:
            raise ValueError("name at least one Bot Framework host, e.g. smba.trafficmanager.net")
        for host in hosts:
            if "/" in host or "@" in host or (host.startswith("*") and not host.startswith("*.")):
                raise ValueError(f"expected host, host:port or *.domain, not {host!r}")
        return ",".join(hosts)

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
        if value is not None and value.is_dir():
            raise ValueError(f"expected a readable YAML file, but {value} is a directory (name the file in it, e.g. {value / 'org.yaml'})")
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
        if self.MICROSOFT_APP_ID and not self.teams_tenants:
            raise ValueError(
                "PULSEBRIDGE_TEAMS_TENANTS: required when MICROSOFT_APP_ID is set (your Microsoft 365 tenant id; "
                "otherwise anyone who installs the app in their own tenant could talk to the bot)"
            )
        if self.MICROSOFT_APP_ID and self.PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE:
            raise ValueError("PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE: not allowed with MICROSOFT_APP_ID (it turns JWT checks off)")
        if bool(self.MICROSOFT_OPENID_METADATA_URL) != bool(self.MICROSOFT_TOKEN_ISSUER):
            raise ValueError("MICROSOFT_OPENID_METADATA_URL: set together with MICROSOFT_TOKEN_ISSUER, or neither")
        if self.PULSEBRIDGE_METRICS_LISTEN != "off" and not self.PULSEBRIDGE_METRICS_TOKEN:
            if not is_loopback(self.PULSEBRIDGE_METRICS_LISTEN.rpartition(":")[0]):
                raise ValueError("PULSEBRIDGE_METRICS_TOKEN: required when PULSEBRIDGE_METRICS_LISTEN is not a loopback address")
        return self

    @property
    def teams_mode(self) -> str | None:
        """"signed" (credentials: every activity's JWT is checked), "local" (unsigned, loopback only) or None (no Teams)."""
        if self.MICROSOFT_APP_ID:
            return "signed"
        return "local" if self.PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE else None

    @property
    def teams_tenants(self) -> tuple[str, ...]:
        own = (self.MICROSOFT_APP_TENANT_ID,) if self.MICROSOFT_APP_TENANT_ID else ()
        return tuple(dict.fromkeys(own + _csv(self.PULSEBRIDGE_TEAMS_TENANTS)))

    @property
    def teams_service_hosts(self) -> tuple[str, ...]:
        return _csv(self.PULSEBRIDGE_TEAMS_SERVICE_HOSTS)

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
