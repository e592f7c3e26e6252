"""The `pulsebridge` command as an admin meets it: clear one-line errors, migrations, a serving process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.kernel.errors import ConfigError
from bot.app import parse_org_config
from tests.conftest import child_env


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "PULSEBRIDGE_", "DATABASE_URL"))}
    clean["PULSEBRIDGE_METRICS_LISTEN"] = "127.0.0.1:0"
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "adapters.cli", *args], cwd=tmp_path, env=child_env(clean), capture_output=True, text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("pulsebridge:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL: expected a sqlite:/// or postgresql+psycopg:// URL"),
        ({"SLACK_BOT_TOKEN": "abc"}, "SLACK_BOT_TOKEN: expected a bot token starting with xoxb-"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET: required when SLACK_BOT_TOKEN is set"),
        ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN: required when Slack is configured"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "SLACK_APP_TOKEN: expected an app-level token starting with xapp-"),
        ({"MICROSOFT_APP_ID": "abc"}, "MICROSOFT_APP_PASSWORD: required when MICROSOFT_APP_ID is set"),
        ({"MICROSOFT_APP_TYPE": "Weird"}, "MICROSOFT_APP_TYPE: expected MultiTenant, SingleTenant or UserAssignedMSI"),
        ({"PULSEBRIDGE_CONFIG": "/nonexistent/org.yaml"}, "PULSEBRIDGE_CONFIG: expected a readable YAML file"),
        ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL: expected an http(s) URL"),
    ],
)
def test_invalid_settings_exit_2_with_one_line_naming_the_variable(tmp_path, env, expected):
    assert expected in one_line_error(cli(tmp_path, "run", env=env))


def test_invalid_org_file_names_file_and_line(tmp_path):
    org = tmp_path / "org.yaml"
    org.write_text("values: [craft]\nteams:\n  support:\n    timezone: Mars/Base\n", encoding="utf-8")
    result = cli(tmp_path, "run", "--migrate", env={"PULSEBRIDGE_CONFIG": str(org), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert f"{org}:4: teams.support.timezone: unknown timezone 'Mars/Base'" in one_line_error(result)


def test_run_refuses_an_outdated_schema_and_db_upgrade_fixes_it(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/pb.db"}
    assert "run `pulsebridge db upgrade`" in one_line_error(cli(tmp_path, "run", env=env))
    upgraded = cli(tmp_path, "db", "upgrade", env=env)
    assert upgraded.returncode == 0 and "up to date" in upgraded.stdout


def test_unreachable_database_is_one_clear_line(tmp_path):
    result = cli(tmp_path, "run", env={"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot reach the database at DATABASE_URL" in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_serves_healthz_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "PULSEBRIDGE_", "DATABASE_URL"))}
    clean["DATABASE_URL"] = f"sqlite:///{tmp_path}/pb.db"
    clean["PULSEBRIDGE_METRICS_LISTEN"] = "127.0.0.1:0"
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "run", "--migrate", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=child_env(clean), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 60  # start-up imports take seconds on a loaded machine
        while body is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    body = resp.read().decode()
            except OSError:
                time.sleep(0.1)
        assert body is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
        assert '"database": "ok"' in body and '"backend": "sqlite"' in body
        for public_only in ("/metrics", "/api/messages"):  # metrics live on their own listener; no Teams credentials
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{public_only}", timeout=5)
            assert refused.value.code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_org_config_errors_point_at_the_line():
    with pytest.raises(ConfigError, match=r"org.yaml:3: teams.support.members: 'bob' is neither an email"):
        parse_org_config("teams:\n  support:\n    members: [ana@example.com, bob]\n", "org.yaml")
    with pytest.raises(ConfigError, match=r"org.yaml:2: not valid YAML"):
        parse_org_config("teams:\n  support: {name: [unclosed}\nvalues: []\n", "org.yaml")
    with pytest.raises(ConfigError, match=r"org.yaml:1: teamz: Extra inputs are not permitted"):
        parse_org_config("teamz: {}\n", "org.yaml")
    with pytest.raises(ConfigError, match=r"org.yaml:1: values: value 'not a tag!' must be a hashtag word"):
        parse_org_config("values: ['not a tag!']\n", "org.yaml")
