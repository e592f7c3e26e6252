"""Helpers shared by the recognition tests: Slack modal states, a fixed clock, a server with its own YAML."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from storage.kernel.db import session
from tests.conftest import ORG_YAML, handled, make_settings, start_server

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a Friday


def text_input(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def static(value: str | None) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value} if value else None}


def users(*ids: str) -> dict[str, Any]:
    return {"type": "multi_users_select", "selected_users": list(ids)}


def day(value: str | None) -> dict[str, Any]:
    return {"type": "datepicker", "selected_date": value}


def win_state(customer="Acme Corp", summary="Saved the renewal after the SSO outage", value="$120k ARR", date="2026-11-19", contributors=("U0BOB", "U0DAN")):
    return {
        "customer": text_input(customer),
        "summary": text_input(summary),
        "value": text_input(value),
        "won_on": day(date),
        "contributors": users(*contributors),
    }


def count(engine, table, *where) -> int:
    with session(engine) as s:
        return s.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def slack_texts(call) -> str:
    """Everything a chat.postMessage / response_url call would show."""
    out = [call.params.get("text", "")]
    for block in call.params.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        for field in block.get("fields", []):
            out.append(field["text"])
        for element in block.get("elements", []):
            if isinstance(element.get("text"), str):
                out.append(element["text"])
            elif isinstance(element.get("text"), dict):
                out.append(element["text"]["text"])
    return "\n".join(out)


def card_text(sent) -> str:
    out = [sent.activity.get("text") or ""]

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") in ("TextBlock", "TextRun"):
                out.append(node.get("text", ""))
            if node.get("type") == "Fact":
                out.append(node.get("title", "") + " " + node.get("value", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk((sent.card or {}).get("body", []))
    return "\n".join(out)


async def settle(server) -> None:
    """Before asserting that something did NOT happen: wait until the bot has finished all it started."""
    await handled(server)


def with_recognition(extra: str, teams_extra: dict[str, str] | None = None) -> str:
    """ORG_YAML plus a `recognition:` block and per-team additions (inserted after each team's timezone)."""
    yaml = ORG_YAML + "recognition:\n" + "".join(f"  {line}\n" for line in extra.strip().splitlines()) if extra.strip() else ORG_YAML
    for team, line in (teams_extra or {}).items():
        anchor = {"support": "    timezone: Europe/Berlin\n", "platform": "    timezone: America/New_York\n"}[team]
        yaml = yaml.replace(anchor, anchor + f"    {line}\n", 1)
    return yaml


class custom_server:
    """`async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:`"""

    def __init__(self, database_url, slack, connector, yaml: str, **settings):
        self.args = (database_url, slack, connector, yaml, settings)

    async def __aenter__(self):
        database_url, slack, connector, yaml, settings = self.args
        self.runner, self.server = await start_server(make_settings(database_url, slack.url, **settings), slack, connector, yaml)
        self.server.core.clock = lambda: NOW
        return self.server

    async def __aexit__(self, *exc):
        await self.runner.cleanup()
        self.server.engine.dispose()
