"""`pulsebridge user delete EMAIL`: nothing about the person is left in any table; others keep their data."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest
from sqlalchemy import func, select

from storage.db import session
from storage.feedback_tables import CustomerKudos, Feedback
from storage.recognition_tables import Win, WinContributor
from storage.tables import Kudos, KudosRecipient, KudosValue, OutboxMessage, User
from storage.teamhealth_tables import Goal
from tests.datarights_support import all_rows, cli, rows_mentioning
from tests.feedback_support import generic, post_feedback, start_feedback_server
from tests.recognition_support import win_state

BOB = ["bob@example.com", "U0BOB", "29:bob", "Bob Stone"]
BOB_TEAMS_DM = {"conversationType": "personal", "tenantId": "tenant-1", "id": "a:personal-29:bob"}


@pytest.fixture
async def srv(database_url, fake_slack, fake_connector):
    runner, server = await start_feedback_server(database_url, fake_slack, fake_connector)
    server.database_url = database_url
    yield server
    await runner.cleanup()
    server.engine.dispose()


async def until(check, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


def count(engine, table, *where) -> int:
    with session(engine) as s:
        return s.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


async def seed_bob(srv) -> None:
    """Bob everywhere: kudos given and received on Slack and Teams, wins, customer praise, DMs, channel posts."""
    await srv.slack_command("/kudos", "<@U0BOB|bob> <@U0DAN|dan> for rescuing the Acme renewal with Bob Stone's script #craft")
    await srv.slack_command("/kudos", "<@U0BOB|bob> for the on-call handover notes", user_id="U0ERIN")
    await srv.slack_command("/kudos", "<@U0CARLA|carla> for pairing on the billing bug #ownership", user_id="U0BOB")
    await srv.teams_send(srv.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for the SSO fix", mentions=[("29:bob", "Bob Stone")]))
    await srv.teams_send(
        srv.teams_activity(
            "<at>pulsebridge</at> kudos <at>Dan Wu</at> for the review", sender=("29:bob", "Bob Stone"), mentions=[("29:dan", "Dan Wu")], conversation=BOB_TEAMS_DM
        )
    )
    await srv.slack_interaction(srv.view_submission("win.record", win_state(contributors=("U0BOB", "U0DAN"))))
    await srv.slack_interaction(srv.view_submission("win.record", win_state(customer="Globex", contributors=("U0DAN",)), user_id="U0BOB"))
    status, _ = await post_feedback(
        srv, generic("Bob Stone fixed our export in an hour. Brilliant!", id="g-bob", agent={"email": "bob@example.com", "name": "Bob Stone", "id": None})
    )
    assert status == 201
    await until(lambda: count(srv.engine, Kudos) == 5 and count(srv.engine, Win) == 2 and count(srv.engine, CustomerKudos) == 1)
    await until(lambda: count(srv.engine, OutboxMessage, OutboxMessage.status.in_(["pending", "sending"])) == 0)
    # A table with no erasure rule of its own (team-health goals): covered by the generic FK rule and the sweep.
    with session(srv.engine) as s, s.begin():
        bob = s.execute(select(User.id).where(User.external_id == "U0BOB")).scalar_one()
        s.add(Goal(key="chat:1", title="CSAT 4.5 like Bob Stone's queue", metric="csat", target=4.5, period="month", starts_on=date(2026, 11, 1), source="chat", created_by=bob))


async def test_delete_leaves_nothing_about_the_person_in_any_table_and_keeps_everyone_else(srv, tmp_path):
    await seed_bob(srv)
    assert {t for t, _, _ in rows_mentioning(srv.engine, BOB)} >= {"users", "kudos", "outbox", "feedback", "customer_kudos", "conversation_refs", "team_members", "goals"}
    with session(srv.engine) as s:
        kudos_ids = set(s.execute(select(Kudos.id)).scalars())
        feedback_before = s.execute(select(Feedback.score, Feedback.sentiment, Feedback.source, Feedback.created_at)).all()

    result = cli(tmp_path, srv.database_url, "user", "delete", "Bob@Example.com", "--yes")
    assert result.returncode == 0, result.stderr
    assert "deleted bob@example.com" in result.stdout

    assert rows_mentioning(srv.engine, BOB) == []
    with session(srv.engine) as s:
        assert s.execute(select(User).where(User.email == "bob@example.com")).first() is None
        # Kudos Bob gave still count for Carla and Dan: giver anonymised, text gone.
        by_recipient = {
            name: (reason, giver)
            for name, reason, giver in s.execute(
                select(User.display_name, Kudos.reason, Kudos.giver_id).join(KudosRecipient, KudosRecipient.kudos_id == Kudos.id).join(User, User.id == KudosRecipient.user_id)
            ).all()
        }
        carla_reason, carla_giver = by_recipient["Carla Diaz"]
        assert carla_reason == "" and s.get(User, carla_giver).display_name == "" and s.get(User, carla_giver).email is None
        assert s.execute(select(KudosValue.value).join(KudosRecipient, KudosRecipient.kudos_id == KudosValue.kudos_id).join(User, User.id == KudosRecipient.user_id).where(User.display_name == "Carla Diaz")).scalars().all() == ["ownership"]
        # Dan keeps both kudos he shared with or got from Bob; kudos only Bob received are gone.
        dan_kudos = s.execute(select(func.count()).select_from(KudosRecipient).join(User, User.id == KudosRecipient.user_id).where(User.display_name == "Dan Wu")).scalar_one()
        assert dan_kudos == 2
        assert len(set(s.execute(select(Kudos.id)).scalars())) == len(kudos_ids) - 2
        # Wins stay with their other contributors; the one Bob recorded stays, recorded by nobody in particular.
        assert s.execute(select(func.count()).select_from(Win)).scalar_one() == 2
        assert {w.customer for w in s.execute(select(Win)).scalars()} == {"Acme Corp", "Globex"}
        assert s.execute(select(func.count()).select_from(WinContributor)).scalar_one() == 2
        # Customer feedback stays for CSAT counts, unlinked and without its text; the relay to Bob is gone.
        assert s.execute(select(Feedback.score, Feedback.sentiment, Feedback.source, Feedback.created_at)).all() == feedback_before
        fb = s.execute(select(Feedback)).scalar_one()
        assert (fb.routed_user_id, fb.text, fb.raw, fb.agent_email) == (None, "", {}, None)
        assert s.execute(select(func.count()).select_from(CustomerKudos)).scalar_one() == 0
        assert {u.display_name for u in s.execute(select(User).where(User.platform != "erased")).scalars()} >= {"Ana Lima", "Carla Diaz", "Dan Wu", "Erin Park"}
        goal = s.execute(select(Goal)).scalar_one()
        assert (goal.created_by, goal.title, goal.target) == (None, "CSAT 4.5 like [deleted]'s queue", 4.5)

    # Idempotent: a second run finds nobody, says so, exits 1 and changes nothing.
    before = all_rows(srv.engine)
    again = cli(tmp_path, srv.database_url, "user", "delete", "bob@example.com", "--yes")
    assert again.returncode == 1
    assert "nobody with the email bob@example.com is known; nothing changed" in again.stderr
    assert all_rows(srv.engine) == before


async def test_unknown_email_exits_1_and_changes_nothing(srv, tmp_path):
    before = all_rows(srv.engine)
    result = cli(tmp_path, srv.database_url, "user", "delete", "nobody@example.com", "--yes")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "nobody with the email nobody@example.com is known; nothing changed" in result.stderr
    assert all_rows(srv.engine) == before


async def test_without_yes_it_asks_and_a_no_changes_nothing(srv, tmp_path):
    await srv.slack_command("/kudos", "<@U0BOB|bob> for the notes")
    await until(lambda: count(srv.engine, Kudos) == 1)
    await until(lambda: count(srv.engine, OutboxMessage, OutboxMessage.status.in_(["pending", "sending"])) == 0)
    before = all_rows(srv.engine)
    result = cli(tmp_path, srv.database_url, "user", "delete", "bob@example.com", input="n\n")
    assert result.returncode == 1 and "Delete this person's data?" in result.stderr
    assert all_rows(srv.engine) == before


async def test_a_failure_part_way_rolls_everything_back(srv, tmp_path):
    """A mention the sweep may not rewrite (here a primary key) makes the whole deletion fail: one transaction."""
    # Platform ids are matched exactly (case-sensitively): Slack's `U0BOB`, as it would be stored.
    await srv.slack_command("/kudos", "<@U0BOB|bob> for the notes")
    await srv.slack_command("/kudos", "<@U0DAN|dan> for the review", user_id="U0CARLA")
    await until(lambda: count(srv.engine, Kudos) == 2)
    await until(lambda: count(srv.engine, OutboxMessage, OutboxMessage.status.in_(["pending", "sending"])) == 0)
    with session(srv.engine) as s, s.begin():
        dans = s.execute(select(Kudos.id).where(Kudos.reason == "the review")).scalar_one()
        s.add(KudosValue(kudos_id=dans, value="U0BOB"))
    before = all_rows(srv.engine)
    result = cli(tmp_path, srv.database_url, "user", "delete", "bob@example.com", "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "personal data still found in kudos_values.value; nothing was changed" in result.stderr
    assert all_rows(srv.engine) == before


async def test_config_that_still_lists_the_person_is_pointed_out(srv, tmp_path):
    from tests.feedback_support import FEEDBACK_ORG_YAML

    config = tmp_path / "org.yaml"
    config.write_text(FEEDBACK_ORG_YAML, encoding="utf-8")
    result = cli(tmp_path, srv.database_url, "user", "delete", "bob@example.com", "--yes", config=config)
    assert result.returncode == 0, result.stderr
    assert "PULSEBRIDGE_CONFIG still lists them (support)" in result.stderr
    assert json.dumps(rows_mentioning(srv.engine, ["bob@example.com", "U0BOB"])) == "[]"
