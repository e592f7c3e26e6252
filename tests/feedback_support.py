"""Helpers for the customer-feedback tests: an org with a feedback section, signed webhook posts, a seeded directory."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from sqlalchemy import select

from bot.directory.lookup import store_profile
from bot.kernel.events import Profile
from storage.kernel.db import session, write_unit
from storage.feedback.tables import CustomerKudos, Feedback
from tests.conftest import ORG_YAML, fixture_json, make_settings, start_server

WEBHOOK_SECRET = "feedback-test-secret"

FEEDBACK_ORG_YAML = ORG_YAML + """
feedback:
  agents:
    "zendesk:90001": dan@example.com
    "intercom:814860": erin@example.com
  account_owners:
    Acme Corp: ana@example.com
  triage_channels:
    slack: C0TRIAGE
    teams: "19:triage@thread.tacv2"
  aliases:
    bob@example.com: [Bobby]
"""

# People the bot has met (so praise can reach them); Carla Mendes shares a first name with Carla Diaz.
SLACK_PEOPLE = [
    ("U0ANA", "Ana Lima", "ana@example.com"),
    ("U0BOB", "Bob Stone", "bob@example.com"),
    ("U0CARLA", "Carla Diaz", "carla@example.com"),
    ("U0DAN", "Dan Wu", "dan@example.com"),
    ("U0ERIN", "Erin Park", "erin@example.com"),
    ("U0CARLA2", "Carla Mendes", "carla.mendes@example.com"),
    ("U0GUILLE", "Guillermo Santos", "guillermo@example.com"),
]


def seed_directory(engine, people=SLACK_PEOPLE, platform: str = "slack") -> None:
    with write_unit(engine) as s:
        for uid, name, email in people:
            store_profile(s, Profile(platform, uid, name, email, "Europe/Berlin"))


async def start_feedback_server(database_url, fake_slack, fake_connector, org_yaml: str = FEEDBACK_ORG_YAML, **settings: Any):
    for uid, name, email in SLACK_PEOPLE:
        if uid not in ("U0ANA", "U0BOB", "U0CARLA", "U0DAN", "U0ERIN"):
            fake_slack.add_user(uid, name, email)
    # The triage channel's members: Ana and Dan may route praise; everyone else may not.
    fake_slack.channel_members.setdefault("C0TRIAGE", ["U0ANA", "U0DAN", "UBOT"])
    values = dict(FEEDBACK_WEBHOOK_SECRET=WEBHOOK_SECRET)
    values.update(settings)
    runner, srv = await start_server(make_settings(database_url, fake_slack.url, **values), fake_slack, fake_connector, org_yaml)
    seed_directory(srv.engine)
    return runner, srv


@pytest.fixture
async def fb(database_url, fake_slack, fake_connector):
    runner, srv = await start_feedback_server(database_url, fake_slack, fake_connector)
    yield srv
    await runner.cleanup()
    srv.engine.dispose()


def documented_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature exactly as README.md documents it, written out here rather than taken from
    adapters.webhooks.sign(): a changed signed string there must break the tests, not follow along.
    `sha256=` + hex HMAC-SHA256 with the secret over `timestamp + "." + raw body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"Content-Type": "application/json", "X-Pulsebridge-Timestamp": ts, "X-Pulsebridge-Signature": documented_signature(secret, ts, body)}


async def post_feedback(srv, payload: Any, *, query: str = "", **kw) -> tuple[int, dict[str, Any]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    status, text = await srv.post("/webhooks/feedback" + query, body, signed_headers(body, **kw))
    return status, json.loads(text) if text.startswith("{") else {"raw": text}


def generic(text: str, *, id: str = "g-1", score: Any = 5, scale: str | None = "csat5", **extra: Any) -> dict[str, Any]:
    payload = {"source": "survey", "id": id, "customer": {"name": "Priya Natarajan", "account": "Globex"}, "score": score, "scale": scale, "text": text}
    payload.update(extra)
    return payload


def fixture(name: str) -> dict[str, Any]:
    return copy.deepcopy(fixture_json(f"feedback/{name}.json"))


def feedback_rows(engine) -> list[Feedback]:
    with session(engine) as s:
        return list(s.execute(select(Feedback).order_by(Feedback.id)).scalars())


def customer_kudos(engine) -> list[CustomerKudos]:
    with session(engine) as s:
        return list(s.execute(select(CustomerKudos).order_by(CustomerKudos.id)).scalars())


def triage_post(engine, feedback_id: int, platform: str) -> tuple[str, str]:
    """(conversation id, message id) of the triage post the bot sent for this feedback, as the outbox stored it."""
    from storage.kernel.tables import OutboxMessage

    with session(engine) as s:
        ref = s.execute(select(OutboxMessage.platform_ref).where(OutboxMessage.key == f"feedback:{feedback_id}:triage:{platform}")).scalar_one()
    conversation_id, _, message_id = ref.rpartition("|")
    return conversation_id, message_id
