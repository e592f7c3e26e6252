"""`pulsebridge user delete EMAIL`: nothing about the person is left in any table; others keep their data."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Column, MetaData, Table, Text, func, select, text
from sqlmodel import SQLModel

from bot.directory.lookup import store_profile
from bot.kernel.events import Profile
from storage.kernel.db import session, write_unit
from storage.datarights.erasure import ERASURE_MAP, map_problems
from storage.feedback.tables import CustomerKudos, Feedback
from storage.pulses.tables import Pulse, PulseAnswer, PulseDelivery, PulseQuestion
from storage.recognition.tables import Win, WinContributor
from storage.directory.tables import Team, User
from storage.kernel.tables import OutboxMessage
from storage.recognition.tables import Kudos, KudosRecipient, KudosValue
from storage.schema import import_all_tables
from storage.teamhealth.tables import Goal, GoalTeam
from tests.conftest import handled
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


def yesterday() -> str:
    """A win's date that is in the past whatever the (possibly --clock moved) date: the core's clock is the real one here."""
    return (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


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
    await srv.slack_interaction(srv.view_submission("win.record", win_state(date=yesterday(), contributors=("U0BOB", "U0DAN"))))
    await srv.slack_interaction(srv.view_submission("win.record", win_state(customer="Globex", date=yesterday(), contributors=("U0DAN",)), user_id="U0BOB"))
    status, _ = await post_feedback(
        srv, generic("Bob Stone fixed our export in an hour. Brilliant!", id="g-bob", agent={"email": "bob@example.com", "name": "Bob Stone", "id": None})
    )
    assert status == 201
    await until(lambda: count(srv.engine, Kudos) == 5 and count(srv.engine, Win) == 2 and count(srv.engine, CustomerKudos) == 1)
    await until(lambda: count(srv.engine, OutboxMessage, OutboxMessage.status.in_(["pending", "sending"])) == 0)
    await handled(srv)  # every accepted request finished (its row marked done), so later snapshots are stable
    # A table with no erasure rule of its own (team-health goals): covered by the generic FK rule and the sweep.
    with write_unit(srv.engine) as s:
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


async def test_a_request_of_theirs_waiting_sealed_is_opened_scrubbed_and_sealed_again(srv, tmp_path):
    """Bob's command was acked, then the process died; the deletion runs before the restart. The
    waiting row is sealed (bot/kernel/sealed.py), so the column search cannot see into it: without
    the key the deletion refuses and changes nothing; with it, the row no longer names him and the
    restart would process a request of nobody's."""
    from bot.kernel.sealed import Sealer
    from storage.kernel.tables import InboundJob

    await seed_bob(srv)
    secret = "s" * 40
    sealer = Sealer(secret)
    key = "slack:T0001:command:waiting-1"
    waiting = {"event": {"_t": "CommandInvoked", "actor": {"_t": "UserRef", "platform": "slack", "external_id": "U0BOB", "display_name": "bob"},
                         "raw_text": "<@U0CARLA> thanks from Bob Stone, bob@example.com"}, "responder": {"response_url": "https://hooks.example/1"}}
    with write_unit(srv.engine) as s:
        s.add(InboundJob(key=key, kind="command", platform="slack", payload=sealer.seal(key, waiting)))

    refused = cli(tmp_path, srv.database_url, "user", "delete", "bob@example.com", "--yes")
    assert refused.returncode == 1 and "PULSEBRIDGE_SECRET_KEY is not set to open it" in refused.stderr and "nothing was changed" in refused.stderr
    with session(srv.engine) as s:
        assert s.execute(select(User).where(User.email == "bob@example.com")).first() is not None

    result = cli(tmp_path, srv.database_url, "user", "delete", "bob@example.com", "--yes", env_extra={"PULSEBRIDGE_SECRET_KEY": secret})
    assert result.returncode == 0, result.stderr
    assert "inbound_jobs (sealed, waiting) 1" in result.stdout
    assert rows_mentioning(srv.engine, BOB) == []
    with session(srv.engine) as s:
        row = s.execute(select(InboundJob).where(InboundJob.key == key)).scalar_one()
    opened = json.dumps(sealer.open(key, row.payload))
    assert not any(needle.lower() in opened.lower() for needle in BOB), opened
    assert "U0CARLA" in opened and "hooks.example" in opened  # the rest of the request is untouched


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
    await handled(srv)  # and every accepted request's row marked done
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
    await handled(srv)  # the accepted requests' rows are marked done too: the snapshot below must not see that happen
    with write_unit(srv.engine) as s:
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


# -- collateral: display names that are ordinary words -------------------------------------------

VICTIM = ("U0VICTIM", "victim@example.com")
AWKWARD = "the pending support tickets were closed, sent and credited on Slack and teams"


async def seed_everyone_else(srv) -> None:
    """Rows of other people full of the words people pick as display names: statuses, platforms, team names."""
    await srv.slack_command("/kudos", f"<@U0CARLA|carla> for {AWKWARD} #craft")
    await srv.teams_send(srv.teams_activity("<at>pulsebridge</at> kudos <at>Dan Wu</at> for the Slack and teams bridge", mentions=[("29:dan", "Dan Wu")]))
    await srv.slack_interaction(srv.view_submission("win.record", win_state(customer="Support Corp", date=yesterday(), contributors=("U0CARLA",))))
    status, _ = await post_feedback(srv, generic(f"Carla Diaz: {AWKWARD}. Brilliant!", id="g-carla", agent={"email": "carla@example.com"}))
    assert status == 201
    await until(lambda: count(srv.engine, Kudos) == 2 and count(srv.engine, Win) == 1 and count(srv.engine, CustomerKudos) == 1)
    await until(lambda: count(srv.engine, OutboxMessage, OutboxMessage.status.in_(["pending", "sending"])) == 0)
    await handled(srv)  # and every accepted request's row marked done
    now = datetime.now(UTC)
    with write_unit(srv.engine) as s:
        users = {u.external_id: u.id for u in s.execute(select(User)).scalars()}
        support = s.execute(select(Team.id).where(Team.slug == "support")).scalar_one()
        pulse = Pulse(source_key="team:support:2026-11-02", kind="scheduled", team_id=support, cycle_date=date(2026, 11, 2),
                      opens_at=now - timedelta(days=9), closes_at=now - timedelta(days=2), status="closed")
        s.add(pulse)
        s.flush()
        question = PulseQuestion(pulse_id=pulse.id, question_key="workload", driver="workload", text="How is your workload?", scale="likert5", choices=["sent", "closed"])
        s.add(question)
        s.flush()
        for uid, delivery_status in (("U0CARLA", "sent"), ("U0DAN", "pending"), ("U0ERIN", "failed")):
            s.add(PulseDelivery(pulse_id=pulse.id, user_id=users[uid], platform="slack", question_keys=["workload"], due_at=now, status=delivery_status,
                                last_error="pending: Slack said closed" if delivery_status == "failed" else None))
        s.add(PulseAnswer(pulse_id=pulse.id, question_id=question.id, respondent="r" * 64, value=4, comment=AWKWARD, answered_on=date(2026, 11, 3)))
        s.add(Feedback(source="zendesk", external_id="z-credited", customer_name="Support Corp", score=5, scale="csat5", text=AWKWARD,
                       sentiment="positive", status="credited", route_method="name_in_text", route_detail="named in text: Carla Diaz (100)",
                       routed_user_id=users["U0CARLA"], agent_name="Slack", raw={"status": "sent", "platform": "teams", "text": AWKWARD}))
        s.add(Feedback(source="survey", external_id="s-pending", text="pending", sentiment="neutral", status="triage", raw={"state": "pending"}))
        goal = Goal(key="chat:support", title="Support CSAT: closed and credited", metric="csat", target=4.5, period="month",
                    starts_on=date(2026, 11, 1), source="chat", created_by=users["U0ANA"])
        s.add(goal)
        s.flush()
        s.add(GoalTeam(goal_id=goal.id, team_id=support))


async def seed_victim(srv, name: str) -> None:
    """Someone whose display name is a plain word: they give, receive and are praised by a customer."""
    srv.slack.add_user(VICTIM[0], name, VICTIM[1])
    with write_unit(srv.engine) as s:
        store_profile(s, Profile("slack", VICTIM[0], name, VICTIM[1], "Europe/Berlin"))
    await srv.slack_command("/kudos", f"<@U0DAN|dan> for the {name} dashboard", user_id=VICTIM[0])
    await srv.slack_command("/kudos", f"<@{VICTIM[0]}|{name.lower()}> for {AWKWARD}")
    status, _ = await post_feedback(srv, generic(f"{name} was great", id="g-victim", agent={"email": VICTIM[1]}))
    assert status == 201
    await until(lambda: count(srv.engine, Kudos) == 4 and count(srv.engine, CustomerKudos) == 2)
    await until(lambda: count(srv.engine, OutboxMessage, OutboxMessage.status.in_(["pending", "sending"])) == 0)
    await handled(srv)  # and every accepted request's row marked done


def by_key(rows: dict[str, list[str]]) -> dict[tuple[str, str], dict]:
    """Each row by table and primary key (every table has one)."""
    import_all_tables()
    out = {}
    for table in SQLModel.metadata.sorted_tables:
        pk = [c.name for c in table.primary_key.columns]
        for row in rows[table.name]:
            values = json.loads(row)
            out[(table.name, json.dumps([values[c] for c in pk]))] = values
    return out


@pytest.mark.parametrize("name", ["sent", "closed", "pending", "credited", "Slack", "teams", "support", "Carla"])
async def test_a_display_name_that_is_an_ordinary_word_changes_nobody_elses_rows(srv, tmp_path, name):
    await seed_everyone_else(srv)
    others = all_rows(srv.engine)
    await seed_victim(srv, name)
    before = all_rows(srv.engine)
    assert any(name.lower() in row.lower() for rows in others.values() for row in rows)

    result = cli(tmp_path, srv.database_url, "user", "delete", VICTIM[1], "--yes")
    assert result.returncode == 0, result.stderr
    after = all_rows(srv.engine)

    # 1. Every row that existed before the person did anything, and did not change since, is byte-identical.
    for table, rows in others.items():
        untouched = set(rows) & set(before[table])
        assert untouched <= set(after[table]), (table, sorted(untouched - set(after[table]))[:3])
    # 2. In every row that is left, no value that *is* their name changed (statuses, platforms, slugs, words).
    old, new = by_key(before), by_key(after)
    for key, row in new.items():
        for column, value in old.get(key, {}).items():
            if isinstance(value, str) and value.lower() == name.lower():
                assert row[column] == value, (key, column)
    assert "[deleted]" not in json.dumps(after["teams"] + after["pulses"] + after["pulse_deliveries"] + after["pulse_questions"] + after["pulse_answers"])
    with session(srv.engine) as s:
        assert sorted(s.execute(select(Team.slug, Team.name)).all()) == [("platform", "Platform"), ("support", "Customer Support")]
        assert {u.platform for u in s.execute(select(User)).scalars()} == {"slack", "teams", "erased"}
        assert sorted(s.execute(select(PulseDelivery.status)).scalars()) == ["failed", "pending", "sent"]
        assert s.execute(select(Pulse.status)).scalars().all() == ["closed"]
        assert sorted(s.execute(select(Feedback.status)).scalars()) == sorted(["relayed", "credited", "triage", "relayed"])
        assert s.execute(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")).scalar_one() == len(
            [r for r in after["outbox"] if '"status": "sent"' in r]
        ) > 0
        assert AWKWARD in s.execute(select(CustomerKudos.quote)).scalar_one()

    # 3. Their own data is gone as before: no account, no id or email anywhere, their kudos text blanked;
    # in stored messages to others, the short name beside their id goes with the id.
    assert rows_mentioning(srv.engine, list(VICTIM)) == []
    mentions_left = [row for row in after["outbox"] if '"display_name": "[deleted]", "external_id": "[deleted]"' in row]
    assert mentions_left and not any(f'"display_name": "{name}", "external_id": "[deleted]"' in row for row in after["outbox"])
    with session(srv.engine) as s:
        assert s.execute(select(User).where(User.email == VICTIM[1])).first() is None
        assert s.execute(select(Kudos.reason).where(Kudos.reason.contains("dashboard"))).first() is None
        assert s.execute(select(func.count()).select_from(Kudos)).scalar_one() == 3  # the kudos only they received is gone
        victim_feedback = s.execute(select(Feedback).where(Feedback.external_id == "g-victim")).scalar_one()
        assert (victim_feedback.routed_user_id, victim_feedback.text, victim_feedback.raw, victim_feedback.agent_email) == (None, "", {}, None)
        assert s.execute(select(func.count()).select_from(CustomerKudos)).scalar_one() == 1


async def test_a_full_name_in_free_text_is_erased_but_not_a_first_name_alone(srv, tmp_path):
    """Full names (2+ words) are searched in free text, as whole words; "Bob" alone and "Bobby Stoner" are someone else's words."""
    await srv.slack_command("/kudos", "<@U0DAN|dan> for pairing with bob stone, Bob, and Bobby Stoner")
    await until(lambda: count(srv.engine, Kudos) == 1)
    result = cli(tmp_path, srv.database_url, "user", "delete", "bob@example.com", "--yes")
    assert result.returncode == 0, result.stderr
    with session(srv.engine) as s:
        assert s.execute(select(Kudos.reason)).scalar_one() == "pairing with [deleted], Bob, and Bobby Stoner"


# -- fail closed -------------------------------------------------------------------------------------


def test_every_table_and_column_has_an_erasure_rule():
    """Add a table or a column and this fails until ERASURE_MAP says what it may hold about a person."""
    import_all_tables()
    assert map_problems(SQLModel.metadata) == []
    assert set(ERASURE_MAP) == {t.name for t in SQLModel.metadata.sorted_tables}


def test_a_new_table_or_column_without_a_rule_is_reported():
    import_all_tables()
    extra = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(extra)
    Table("notes", extra, Column("id", Text, primary_key=True), Column("body", Text))
    extra.tables["kudos"].append_column(Column("nickname", Text))
    assert sorted(map_problems(extra)) == ["kudos.nickname", "notes (table)"]
    wrong = {**ERASURE_MAP, "goals": {**ERASURE_MAP["goals"], "created_by": ERASURE_MAP["goals"]["metric"]}}
    assert map_problems(SQLModel.metadata, wrong) == ["goals.created_by (references users.id: must be, and only it may be, user_ref)"]


async def test_a_column_the_map_does_not_know_stops_the_deletion_before_anything_changes(srv, tmp_path):
    """A column added by hand (or by a newer migration) may hold anything: refuse rather than guess."""
    await srv.slack_command("/kudos", "<@U0BOB|bob> for the notes")
    await until(lambda: count(srv.engine, Kudos) == 1)
    await until(lambda: count(srv.engine, OutboxMessage, OutboxMessage.status.in_(["pending", "sending"])) == 0)
    await handled(srv)  # and every accepted request's row marked done
    with srv.engine.begin() as conn:
        conn.execute(text("ALTER TABLE kudos ADD COLUMN nickname TEXT"))
        conn.execute(text("UPDATE kudos SET nickname = 'Bobby'"))
    before = all_rows(srv.engine)
    result = cli(tmp_path, srv.database_url, "user", "delete", "bob@example.com", "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no erasure rule for kudos.nickname (column in the database); nothing was changed" in result.stderr
    assert all_rows(srv.engine) == before
    with srv.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users WHERE email = 'bob@example.com'")).scalar_one() == 1
