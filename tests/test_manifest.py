"""manifest.yml is what admins paste into Slack: it must validate and ask for exactly what the bot uses."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

from tests.conftest import shared_schema

MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"


def load() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_manifest_validates_against_slack_schema():
    manifest = load()
    version = manifest.get("_metadata", {}).get("major_version", 1)
    jsonschema.validate(manifest, shared_schema(f"slack-app-manifest-v{version}.schema.json"))


def test_manifest_declares_commands_interactivity_events_and_minimal_scopes():
    manifest = load()
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {"/kudos", "/win", "/pulse", "/teamhealth", "/goals"}
    # should_escape turns "@ana" into <@U…> so mentions arrive as ids, not guessable names.
    assert all(c["should_escape"] and c["url"].endswith("/slack/events") for c in commands.values())
    assert manifest["features"]["bot_user"]["display_name"] == "pulsebridge"
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    # message.im: a DM to the bot (the Messages tab) is answered with help; app_home_opened: the Home tab.
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {"team_join", "user_change", "message.im", "app_home_opened"}
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True and manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "chat:write", "commands", "im:history", "im:write", "usergroups:read", "users:read", "users:read.email",
        "channels:read", "groups:read",  # conversations.members: who may route praise from the triage channel
    }
