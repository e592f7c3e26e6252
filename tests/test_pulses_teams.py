"""Pulses on Teams: Adaptive Card DMs with Action.Submit buttons, update in place, comment input card."""

from __future__ import annotations

from datetime import timedelta

import jsonschema
import pytest

from storage.kernel.db import session
from storage.pulses.queries import questions_of
from tests.conftest import handled, teams_card_schema
from tests.pulse_helpers import TUESDAY, answers, deliveries, pulse_server_for, seed_people, tick

TEAMS_YAML = """
pulses: {questions_per_pulse: 1, min_group_size: 3}
teams:
  crew:
    name: Crew
    timezone: Europe/Berlin
    leads: ["teams:29:ana"]
    members: ["teams:29:ana", "teams:29:bob", "teams:29:dan"]
    pulse: {day: tue, time: "10:00"}
"""


@pytest.fixture
async def teams_pulse(database_url, fake_slack, fake_connector):
    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, TEAMS_YAML)
    seed_people(srv.engine, [("29:ana", "Ana Lima", None, "Asia/Tokyo"), ("29:bob", "Bob Stone", None, None), ("29:dan", "Dan Wu", None, "America/New_York")], platform="teams")
    yield srv
    await runner.cleanup()
    srv.engine.dispose()


def buttons(card) -> list[dict]:
    """Buttons in body ActionSets (several rows) and in the card footer (a single row)."""
    return [a for item in card["body"] if item["type"] == "ActionSet" for a in item["actions"]] + list(card.get("actions", []))


def card_texts(card) -> str:
    out = []
    for item in card["body"]:
        out.extend(run.get("text", "") for run in item.get("inlines", []))
        out.append(item.get("text", ""))
    return "\n".join(out)


async def test_teams_pulse_card_answer_change_and_comment(teams_pulse):
    srv = teams_pulse
    schema = teams_card_schema()
    await srv.teams_send(srv.teams_activity("help"))  # the bot has been installed: it knows a service URL and tenant
    await handled(srv)  # answered after the 201, from a worker
    await srv.connector.wait_for(1)
    await tick(srv, TUESDAY + timedelta(hours=1))  # 10:00 Tokyo: Ana only
    assert [s.conversation_id for s in srv.connector.sent[1:]] == ["a:personal-29:ana"]
    await tick(srv, TUESDAY + timedelta(hours=15))  # 10:00 New York (and Berlin earlier): Bob, Dan
    dms = {s.conversation_id: s for s in srv.connector.sent[1:]}
    assert set(dms) == {"a:personal-29:ana", "a:personal-29:bob", "a:personal-29:dan"}
    for sent in dms.values():
        jsonschema.validate(sent.card, schema)

    bob_card = dms["a:personal-29:bob"]
    row = deliveries(srv.engine)["29:bob"]
    with session(srv.engine) as s:
        question = questions_of(s, row.pulse_id)[row.question_keys[0]]  # eNPS: first pulse
    data = [b["data"] for b in buttons(bob_card.card) if b["data"]["action_id"].startswith("pulse.answer:")]
    assert len(data) == 11 and data[9]["value"] == f"{row.pulse_id}:{question.id}:9"
    assert all(len([a for a in item["actions"]]) <= 6 for item in bob_card.card["body"] if item["type"] == "ActionSet")

    bob = ("29:bob", "Bob Stone")
    dm_id = row.platform_ref.rpartition("|")[2]
    conversation = {"conversationType": "personal", "tenantId": "tenant-1", "id": "a:personal-29:bob"}
    await srv.teams_send(srv.teams_submit(data[9], sender=bob, reply_to_id=dm_id, conversation=conversation))
    await handled(srv)  # answered after the 201, from a worker
    assert len(srv.connector.updated) == 1
    updated = srv.connector.updated[0]
    assert updated.reply_to == dm_id and "Your answer: 9" in card_texts(updated.activity["attachments"][0]["content"])
    jsonschema.validate(updated.activity["attachments"][0]["content"], schema)

    await srv.teams_send(srv.teams_submit(data[4], sender=bob, reply_to_id=dm_id, conversation=conversation))  # changed
    await handled(srv)  # answered after the 201, from a worker
    await srv.teams_send(srv.teams_submit(data[4], sender=bob, reply_to_id=dm_id, conversation=conversation))  # double click
    await handled(srv)  # answered after the 201, from a worker
    (answer,) = answers(srv.engine)
    assert answer.value == 4

    comment = next(b["data"] for b in buttons(srv.connector.updated[-1].activity["attachments"][0]["content"]) if b["data"]["action_id"].startswith("pulse.comment:"))
    sent_before = len(srv.connector.sent)
    await srv.teams_send(srv.teams_submit(comment, sender=bob, reply_to_id=dm_id, conversation=conversation))
    await handled(srv)  # answered after the 201, from a worker
    form = srv.connector.sent[sent_before].card
    jsonschema.validate(form, schema)
    submit = form["actions"][0]["data"]
    assert submit["form_id"] == "pulse.comment"
    await srv.teams_send(srv.teams_submit({**submit, "comment": "Workload is terrible and stressful"}, sender=bob, conversation=conversation))
    await handled(srv)  # answered after the 201, from a worker
    (answer,) = answers(srv.engine)
    assert answer.comment == "Workload is terrible and stressful" and answer.polarity < 0
    dm = [u for u in srv.connector.updated if u.reply_to == dm_id][-1]  # the pulse DM says so
    assert "comment saved" in card_texts(dm.activity["attachments"][0]["content"])
    assert srv.connector.updated[-1].reply_to == "act-1"  # and the comment form became its confirmation


async def test_teams_forged_value_is_refused(teams_pulse):
    srv = teams_pulse
    await srv.teams_send(srv.teams_activity("help"))
    await handled(srv)  # answered after the 201, from a worker
    await tick(srv, TUESDAY + timedelta(hours=15))
    row = deliveries(srv.engine)["29:bob"]
    with session(srv.engine) as s:
        question = questions_of(s, row.pulse_id)[row.question_keys[0]]
    before = len(srv.connector.sent)
    forged = {"action_id": f"pulse.answer:{question.id}:3", "value": f"{row.pulse_id}:{question.id}:10"}
    await srv.teams_send(srv.teams_submit(forged, sender=("29:bob", "Bob Stone")))
    await handled(srv)  # answered after the 201, from a worker
    reply = srv.connector.sent[before]
    assert "doesn't match" in card_texts(reply.card)
    assert answers(srv.engine) == [] and srv.connector.updated == []


async def test_teams_pulse_command_reshows_open_questions(teams_pulse):
    srv = teams_pulse
    await srv.teams_send(srv.teams_activity("help"))
    await handled(srv)  # answered after the 201, from a worker
    await tick(srv, TUESDAY + timedelta(hours=15))
    before = len(srv.connector.sent)
    conversation = {"conversationType": "personal", "tenantId": "tenant-1", "id": "a:personal-29:dan"}
    await srv.teams_send(srv.teams_activity("<at>pulsebridge</at> pulse", sender=("29:dan", "Dan Wu"), conversation=conversation))
    await handled(srv)  # answered after the 201, from a worker
    new = srv.connector.sent[before:]
    assert [s.conversation_id for s in new] == ["a:personal-29:dan", "a:personal-29:dan"]
    assert any(b["data"]["action_id"].startswith("pulse.answer:") for b in buttons(new[0].card))
    assert "sent you 1 open pulse" in card_texts(new[1].card)
    row = deliveries(srv.engine)["29:dan"]
    assert row.status == "sent" and row.platform_ref.startswith("a:personal-29:dan|act-")
