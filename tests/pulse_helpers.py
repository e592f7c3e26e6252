"""Shared set-up for the pulse tests: an org with a weekly pulse, people in three timezones, a movable clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from storage.kernel.db import session, write_unit
from storage.directory.queries import upsert_user
from storage.pulses.tables import Pulse, PulseAnswer, PulseDelivery
from tests.conftest import handled, make_settings, start_server

SECRET = "k" * 40
# Tuesday 24 Nov 2026: 10:00 is 01:00 UTC in Tokyo, 09:00 UTC in Berlin, 18:00 UTC in Los Angeles.
TUESDAY = datetime(2026, 11, 24, tzinfo=UTC)

PULSE_YAML = """
admins: [olga@example.com]
pulses:
  questions_per_pulse: 2
  min_group_size: 5
  open_hours: 48
  remind_before_hours: 24
teams:
  support:
    name: Customer Support
    timezone: Europe/Berlin
    leads: [ana@example.com]
    members: [ana@example.com, bob@example.com, carla@example.com, dan@example.com, erin@example.com, fay@example.com]
    pulse: {day: tue, time: "10:00"}
"""

PEOPLE = [
    ("U0ANA", "Ana Lima", "ana@example.com", "Asia/Tokyo"),
    ("U0BOB", "Bob Stone", "bob@example.com", "Europe/Berlin"),
    ("U0CARLA", "Carla Diaz", "carla@example.com", "America/Los_Angeles"),
    ("U0DAN", "Dan Wu", "dan@example.com", None),  # no timezone in the directory: the team's (Berlin)
    ("U0ERIN", "Erin Park", "erin@example.com", "Europe/Berlin"),
    ("U0FAY", "Fay Ng", "fay@example.com", "Europe/Berlin"),
]


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def seed_people(engine, people=PEOPLE, platform="slack") -> None:
    with write_unit(engine) as s:
        for uid, name, email, tz in people:
            upsert_user(s, platform=platform, external_id=uid, display_name=name, email=email, timezone=tz)


async def pulse_server_for(database_url, fake_slack, fake_connector, org_yaml=PULSE_YAML, **settings):
    values = {"PULSEBRIDGE_SECRET_KEY": SECRET, "PULSEBRIDGE_SEND_RATE": 200.0}
    values.update(settings)
    runner, srv = await start_server(make_settings(database_url, fake_slack.url, **values), fake_slack, fake_connector, org_yaml)
    srv.clock = Clock(TUESDAY)
    srv.core.clock = srv.clock
    fake_slack.add_user("U0FAY", "Fay Ng", "fay@example.com")
    return runner, srv


@pytest.fixture
async def pulse_server(database_url, fake_slack, fake_connector):
    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector)
    seed_people(srv.engine)
    yield srv
    await runner.cleanup()
    srv.engine.dispose()


async def tick(srv, at: datetime | None = None) -> None:
    """The scheduler's tick at `at`, after every click already acknowledged has been processed (clicks
    are processed after their ack, on a worker): as in production, where a tick comes a minute later."""
    await handled(srv)
    if at is not None:
        srv.clock.now = at
    await srv.core.jobs["pulses.tick"](srv.core)


def adhoc_form() -> dict:
    """The `/pulse send` form as Slack submits it: support's wellbeing-1 question, closing in 4 hours."""
    return {
        "team": {"type": "static_select", "selected_option": {"value": "support"}},
        "question": {"type": "static_select", "selected_option": {"value": "wellbeing-1"}},
        "custom": {"type": "plain_text_input", "value": None},
        "scale": {"type": "static_select", "selected_option": None},
        "close": {"type": "static_select", "selected_option": {"value": "4"}},
    }


def count(engine, model, *where) -> int:
    with session(engine) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def answers(engine) -> list[PulseAnswer]:
    with session(engine) as s:
        return list(s.execute(select(PulseAnswer)).scalars())


def deliveries(engine) -> dict[str, PulseDelivery]:
    from storage.directory.tables import User

    with session(engine) as s:
        rows = s.execute(select(PulseDelivery, User.external_id).join(User, User.id == PulseDelivery.user_id)).all()
        return {ext: d for d, ext in rows}


def only_pulse(engine) -> Pulse:
    with session(engine) as s:
        return s.execute(select(Pulse)).scalar_one()


def dm_buttons(call) -> list[dict]:
    """Every button of a Slack message (postMessage or update), in order."""
    return [e for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"]]


def texts(call) -> str:
    out = []
    for b in call.params["blocks"]:
        if "text" in b and isinstance(b["text"], dict):
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            if isinstance(e.get("text"), str):
                out.append(e["text"])
    return "\n".join(out)
