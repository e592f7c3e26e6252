"""`pulsebridge check` as an admin runs it after configuring, against the loopback fake Slack API."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from storage.kernel.migrate import upgrade
from tests.conftest import child_env

SECRET_KEY = "k" * 40
ORG = """
values: [craft]
teams:
  support:
    slack_channel: C0SUPPORT
    leads: [ana@example.com]
    members: [ana@example.com, bob@example.com]
    pulse: {day: tue, time: "10:00"}
  platform:
    slack_channel: C0PLATFORM
    members: [dan@example.com]
feedback:
  triage_channels: {slack: C0TRIAGE}
"""


async def check(tmp_path: Path, env: dict[str, str]) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "PULSEBRIDGE_", "DATABASE_URL", "FEEDBACK_"))}
    clean.update(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "check", cwd=tmp_path, env=child_env(clean),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode, out.decode(), err.decode()


def line(out: str, status: str, name: str) -> str:
    found = [row for row in out.splitlines() if row.split()[:1] == [status] and f" {name} " in row]
    assert found, f"no {status} {name!r} line in:\n{out}"
    return found[0]


def feature(out: str, name: str) -> str:
    found = [row for row in out.splitlines() if row.strip().startswith(name + " ")]
    assert found, out
    return found[0]


@pytest.fixture
def configured(tmp_path, fake_slack):
    org = tmp_path / "org.yaml"
    org.write_text(ORG, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'pb.db'}"
    upgrade(url)
    fake_slack.add_channel("C0SUPPORT", "support")
    fake_slack.add_channel("C0PLATFORM", "platform")
    fake_slack.add_channel("C0TRIAGE", "cx-triage", is_private=True)
    return {
        "DATABASE_URL": url, "PULSEBRIDGE_CONFIG": str(org), "PULSEBRIDGE_SECRET_KEY": SECRET_KEY,
        "SLACK_BOT_TOKEN": "xoxb-check", "SLACK_SIGNING_SECRET": "s" * 20, "SLACK_API_URL": fake_slack.url + "/api/",
        "PULSEBRIDGE_METRICS_LISTEN": "off",
    }


async def test_a_complete_configuration_passes_and_lists_features(tmp_path, fake_slack, configured):
    code, out, err = await check(tmp_path, configured)
    assert code == 0, out + err
    assert "pb.db" not in line(out, "ok", "database") and "schema up to date" in line(out, "ok", "database")
    assert "2 team(s)" in line(out, "ok", "org file")
    assert "T0001" in line(out, "ok", "slack token")
    assert "all 9" in line(out, "ok", "slack scopes")
    members = [row for row in out.splitlines() if row.split()[:2] == ["ok", "slack"] and "is a member" in row]
    assert len(members) == 3 and any("C0TRIAGE" in row for row in members)
    assert "scheduled for support" in feature(out, "Pulses") and " on " in feature(out, "Pulses")
    assert " off " in feature(out, "Teams") and "MICROSOFT_APP_ID not set" in feature(out, "Teams")
    assert " off " in feature(out, "Customer feedback") and "FEEDBACK_WEBHOOK_SECRET" in feature(out, "Customer feedback")
    assert "all good" in out
    # Nothing was sent: check only reads.
    assert {c.method for c in fake_slack.calls} == {"auth.test", "conversations.info"}
    assert all(c.params["_auth"] == "Bearer xoxb-check" for c in fake_slack.calls)


async def test_missing_scope_channel_membership_and_pulse_key_each_fail_with_what_to_do(tmp_path, fake_slack, configured):
    fake_slack.scopes.remove("usergroups:read")
    fake_slack.channels["C0PLATFORM"]["is_member"] = False
    fake_slack.channels["C0TRIAGE"]["is_member"] = False  # private: Slack says channel_not_found to a non-member
    env = dict(configured)
    del env["PULSEBRIDGE_SECRET_KEY"]
    code, out, err = await check(tmp_path, env)
    assert code == 1, out
    assert "usergroups:read" in line(out, "FAIL", "slack scopes") and "reinstall" in line(out, "FAIL", "slack scopes")
    fails = [row for row in out.splitlines() if row.split()[:2] == ["FAIL", "slack"] and "channel" in row]
    assert any("C0PLATFORM" in row and "/invite @pulsebridge" in row for row in fails), out
    assert any("C0TRIAGE" in row and "channel_not_found" in row for row in fails), out
    assert "missing: PULSEBRIDGE_SECRET_KEY" in feature(out, "Pulses")
    assert "check(s) failed" in err and "Traceback" not in err


async def test_a_refused_bot_token_and_app_token_fail(tmp_path, fake_slack, configured):
    fake_slack.revoked_tokens |= {"xoxb-check", "xapp-1-bad"}
    code, out, _ = await check(tmp_path, configured)
    assert code == 1 and "invalid_auth" in line(out, "FAIL", "slack token")

    fake_slack.revoked_tokens.discard("xoxb-check")
    code, out, _ = await check(tmp_path, {**configured, "SLACK_APP_TOKEN": "xapp-1-bad"})
    assert code == 1 and "SLACK_APP_TOKEN refused" in line(out, "FAIL", "slack socket")
    assert "Socket Mode" in feature(out, "Slack")


async def test_unreachable_slack_outdated_or_missing_database_and_bad_org_file(tmp_path, configured):
    (tmp_path / "bad.yaml").write_text("teams:\n  support:\n    timezone: Mars/Base\n", encoding="utf-8")
    env = {**configured, "SLACK_API_URL": "http://127.0.0.1:9/api/", "DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}",
           "PULSEBRIDGE_CONFIG": str(tmp_path / "bad.yaml")}
    code, out, _ = await check(tmp_path, env)
    assert code == 1
    assert "cannot reach Slack" in line(out, "FAIL", "slack token")
    assert "pulsebridge db upgrade" in line(out, "FAIL", "database")
    assert not (tmp_path / "new.db").exists()  # checking never creates a database
    assert "bad.yaml:3: teams.support.timezone" in line(out, "FAIL", "org file")


async def test_teams_credentials_are_checked_for_consistency(tmp_path, configured):
    env = {**configured, "MICROSOFT_APP_ID": "not-a-guid", "MICROSOFT_APP_PASSWORD": "p", "PULSEBRIDGE_TEAMS_TENANTS": "contoso"}
    code, out, _ = await check(tmp_path, env)
    assert code == 1
    assert "not a GUID" in line(out, "FAIL", "teams app id")
    assert "contoso" in line(out, "FAIL", "teams tenants")
    assert "new bots are SingleTenant" in line(out, "warn", "teams app type")


async def test_invalid_settings_are_one_failed_line_and_exit_1(tmp_path):
    code, out, err = await check(tmp_path, {"SLACK_BOT_TOKEN": "nope"})
    assert code == 1 and "Traceback" not in err
    assert "SLACK_BOT_TOKEN: expected a bot token starting with xoxb-" in line(out, "FAIL", "settings")
