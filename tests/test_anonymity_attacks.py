"""Attacks on pulse anonymity, played through the real endpoints and the raw database (SQLite and PostgreSQL).

Each test is an adversary from issue 12 — a curious lead, a database operator without the secret
key, a person with two accounts — doing what recovered a named person's answer before, and
checking that it now learns nothing finer than a group of N (min_group_size) people.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text

from bot.pulses.anonymity import respondent_key
from storage.kernel.db import session, write_unit
from storage.directory.queries import upsert_user
from storage.pulses.tables import Pulse, PulseAnswer, PulseDelivery, PulseQuestion
from storage.pulses.queries import questions_of
from storage.datarights.retention import purge_before
from storage.directory.tables import User
from tests.conftest import ORG_YAML, handled
from tests.pulse_helpers import PULSE_YAML, SECRET, TUESDAY, adhoc_form, answers, count, deliveries, only_pulse, pulse_server, pulse_server_for, seed_people, tick  # noqa: F401
from tests.recognition_support import custom_server, slack_texts
from tests.teamhealth_support import seed_pulse

H = timedelta(hours=1)
BERLIN_MORNING = TUESDAY + 9 * H  # 10:00 Berlin; Tokyo's 10:00 passed at 01:00 UTC; Los Angeles still asleep
LA_MORNING = TUESDAY + 18 * H
CLOSED = LA_MORNING + 48 * H


def value_for(question: PulseQuestion, person: str) -> int:
    """A different, known value per person, valid for the question's scale."""
    i = "ABCDEFGHIJKLMNOPQRSTUVWXYZ".index(person[3])
    return i % 11 if question.scale == "enps" else (i % 5) + 1 if question.scale in ("likert", "mood") else 0


async def click(srv, ext: str, pulse_id: int, question: PulseQuestion, value: int):
    """A click, processed (clicks are processed after their ack, on a worker)."""
    payload = srv.block_actions(f"pulse.answer:{question.id}:{value}", f"{pulse_id}:{question.id}:{value}", user_id=ext, channel="D" + ext[1:])
    result = await srv.slack_interaction(payload)
    await handled(srv)
    return result


async def answer_all(srv, ext: str, order: list | None = None) -> None:
    row = deliveries(srv.engine)[ext]
    with session(srv.engine) as s:
        asked = questions_of(s, row.pulse_id)
    for key in row.question_keys:
        q = asked[key]
        if q.scale == "text":
            continue
        await click(srv, ext, row.pulse_id, q, value_for(q, ext))
        if order is not None:
            order.append((q.id, ext))


async def results(srv, user: str = "U0ANA") -> str:
    before = len(srv.slack.calls_to("response_url"))
    await srv.slack_command("/pulse", "results", user_id=user)
    call = (await srv.slack.wait_for("response_url", before + 1))[before]
    return str(call.params.get("blocks")) + call.params.get("text", "")


def person_id(engine, ext: str) -> int:
    with session(engine) as s:
        return s.execute(select(User.id).where(User.external_id == ext)).scalar_one()


# --- the lead -------------------------------------------------------------------------------


async def test_lead_reading_before_and_after_the_last_timezone_learns_nothing(pulse_server):
    """Issue 12.1: the lead read results before and after Los Angeles got the DM and recovered Carla's eNPS 2 and comment."""
    srv = pulse_server
    await tick(srv, BERLIN_MORNING)
    reached = {ext for ext, d in deliveries(srv.engine).items() if d.status == "sent"}
    assert reached == {"U0ANA", "U0BOB", "U0DAN", "U0ERIN", "U0FAY"}  # Carla (Los Angeles) not yet
    for ext in sorted(reached):
        await answer_all(srv, ext)
    await tick(srv, BERLIN_MORNING + H)  # a batch of 5 flags is released: nothing about it reaches the lead
    before = await results(srv)

    await tick(srv, LA_MORNING)
    carla = deliveries(srv.engine)["U0CARLA"]
    with session(srv.engine) as s:
        enps = questions_of(s, carla.pulse_id)["enps"]
    await click(srv, "U0CARLA", carla.pulse_id, enps, 2)
    await srv.slack_interaction(srv.view_submission(
        "pulse.comment", {"comment": {"type": "plain_text_input", "value": "My manager never listens"}}, user_id="U0CARLA",
        private_metadata=f"{carla.pulse_id}:{enps.id}"))
    after = await results(srv)

    # Two reads around the last person's answer are identical: there is no difference to take.
    assert before == after
    assert "everyone reached so far" in after and "Results are shown once the pulse closes" in after
    assert "eNPS" not in after and "My manager" not in after and "Answers" not in after
    # The lead's /teamhealth counts no open pulse either (and it has nothing else for this team).
    await srv.slack_command("/teamhealth", "support week", user_id="U0ANA")
    health = slack_texts((await srv.slack.wait_for("response_url", 3))[2])
    assert "no closed pulse in this period" in health and "My manager" not in health

    # After the close the answers are final: one release, the whole group at once.
    srv.clock.now = CLOSED
    final = await results(srv)
    assert "eNPS" in final and "My manager never listens" in final and "Answers" in final
    # Changing an answer after the close is refused, so a later read cannot differ either.
    status, _ = await click(srv, "U0CARLA", carla.pulse_id, enps, 10)
    assert "closed" in (await srv.slack.wait_for("response_url", 5))[4].params["text"]
    assert final == await results(srv)


async def test_lead_watching_an_adhoc_pulse_of_exactly_n_sees_no_change_when_one_answer_changes(pulse_server):
    """Issue 12.1: an ad-hoc pulse to exactly N people showed every later change of one answer."""
    srv = pulse_server
    srv.clock.now = TUESDAY + timedelta(days=3)
    state = adhoc_form()
    await srv.slack_interaction(srv.view_submission("pulse.send", state, user_id="U0ANA"))
    await srv.slack.wait_for("chat.postMessage", 6)  # 5 DMs (exactly N) + the lead's confirmation
    pulse = only_pulse(srv.engine)
    with session(srv.engine) as s:
        (question,) = questions_of(s, pulse.id).values()
    for ext in ("U0BOB", "U0CARLA", "U0DAN", "U0ERIN", "U0FAY"):
        await click(srv, ext, pulse.id, question, 4)
    first = await results(srv)
    await click(srv, "U0CARLA", pulse.id, question, 1)  # Carla changes her mind
    second = await results(srv)
    assert first == second and "Average" not in second and "5 or more people have answered" in second
    srv.clock.now = pulse.closes_at
    final = await results(srv)
    assert "3.4 / 5" in final  # 4,4,4,4,1: shown once, final


# --- the database operator ------------------------------------------------------------------


async def test_operator_cannot_pair_answers_with_people_by_xmin_row_order_timestamps_or_ids(pulse_server):
    """Issue 12.2: one xmin join named 6 of 6 respondents; SQLite rowid order gave the order people answered."""
    srv = pulse_server
    engine = srv.engine
    order: list[tuple[int, str]] = []
    await tick(srv, BERLIN_MORNING)
    for ext in ("U0ANA", "U0BOB", "U0DAN", "U0ERIN", "U0FAY"):
        await answer_all(srv, ext, order)
    await tick(srv, BERLIN_MORNING + H)  # releases the batch of five
    await tick(srv, LA_MORNING)
    srv.clock.now = LA_MORNING + 20 * H  # Carla answers on Wednesday, everyone else on Tuesday
    await answer_all(srv, "U0CARLA", order)
    await tick(srv, LA_MORNING + 21 * H)  # one new answer: re-shuffled, no flag
    assert not deliveries(engine)["U0CARLA"].answered

    pulse = only_pulse(engine)
    keys = {respondent_key(SECRET, person_id(engine, ext), pulse.id): ext for ext in ("U0ANA", "U0BOB", "U0CARLA", "U0DAN", "U0ERIN", "U0FAY")}
    is_pg = engine.dialect.name == "postgresql"

    def xmin_links() -> dict[str, set[str]]:
        """user → respondents written by the same or an adjacent transaction id as their delivery row (PostgreSQL only).

        Adjacent, not only equal: an insert inside a savepoint gets a subtransaction id one above its
        transaction's, which is how this join named 6 of 6 respondents before the fix."""
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT u.external_id, a.respondent FROM pulse_answers a "
                "JOIN pulse_deliveries d ON abs(a.xmin::text::bigint - d.xmin::text::bigint) <= 2 "
                "JOIN users u ON u.id = d.user_id"
            )).all()
        out: dict[str, set[str]] = {}
        for ext, respondent in rows:
            out.setdefault(ext, set()).add(respondent)
        return out

    def physical_order() -> list[tuple[int, str]]:
        sql = "SELECT question_id, respondent FROM pulse_answers ORDER BY ctid" if is_pg else "SELECT question_id, respondent FROM pulse_answers"
        with engine.connect() as conn:
            return [(qid, keys[r]) for qid, r in conn.execute(text(sql))]

    ids_while_open: set[str] = set()
    for moment in ("open, one answer pending", "closed, final batch"):
        if is_pg:
            for ext, linked in xmin_links().items():
                # A match, if any, is with the whole pulse's answers: never a group smaller than N.
                assert len(linked) >= pulse.min_group_size, (moment, ext, len(linked))
        else:
            with engine.connect() as conn, pytest.raises(sa.exc.OperationalError):
                conn.execute(text("SELECT rowid FROM pulse_answers"))
        stored = physical_order()
        assert sorted(stored) == sorted(order) and len(order) >= 10
        assert stored != order, moment  # the order they answered in is gone (odds of a chance match: 1 in 10!+)
        rows = answers(engine)
        assert {a.answered_on for a in rows} == {pulse.cycle_date}  # Carla's Wednesday looks like Tuesday
        assert all(len(a.id) == 32 and not a.id.isdigit() for a in rows)
        ids_while_open = ids_while_open or {a.id for a in rows}
        await tick(srv, CLOSED)
    assert deliveries(engine)["U0CARLA"].answered  # participation is complete after the close
    assert not ids_while_open & {a.id for a in answers(engine)}  # the final release renewed every id


async def test_operator_reading_the_logs_at_default_level_sees_no_answers(pulse_server, caplog):
    srv = pulse_server
    caplog.set_level("INFO")
    await tick(srv, LA_MORNING)
    for ext in ("U0ANA", "U0BOB", "U0CARLA", "U0DAN", "U0ERIN"):
        await answer_all(srv, ext)
    await tick(srv, LA_MORNING + H)
    logged = caplog.text
    assert "released in one shuffled batch" in logged
    keys = [a.respondent for a in answers(srv.engine)]
    assert not any(k in logged for k in keys)
    assert not any(ext in logged for ext in ("U0ANA", "U0BOB", "U0CARLA", "U0DAN", "U0ERIN"))


async def test_operator_reading_the_accepted_requests_table_sees_no_answers(pulse_server):
    """Clicks are recorded before their ack so a crash loses none (inbound_jobs, issue 17). That record
    names the person and the value clicked; once processed it must keep only the delivery key, or a
    database operator could read who answered what for as long as the row is kept."""
    srv = pulse_server
    await tick(srv, LA_MORNING)
    people = ("U0ANA", "U0BOB", "U0CARLA")
    for ext in people:
        await answer_all(srv, ext)
    await handled(srv)
    with srv.engine.connect() as conn:
        rows = conn.execute(text("SELECT key, status, payload, last_error FROM inbound_jobs")).all()
    assert len(rows) >= len(people)  # the clicks were recorded before their acks
    assert {status for _key, status, _payload, _error in rows} == {"done"}
    for key, _status, payload, error in rows:
        stored = f"{key} {payload} {error}"
        assert not any(ext in stored for ext in people), stored
        assert "pulse.answer" not in stored, stored
    assert len(answers(srv.engine)) >= len(people)


async def test_a_click_waiting_in_the_accepted_requests_table_is_sealed(pulse_server, monkeypatch):
    """Between its ack and its processing a click waits in inbound_jobs, and every copy the database
    keeps of that moment (PostgreSQL's dead tuples and WAL, so every point-in-time backup; SQLite's
    freed pages) outlives the blanking: the waiting row must not say who clicked what. Here the
    process "dies" right after the record; the restart's resume opens the row and stores the answer."""
    srv = pulse_server
    await tick(srv, LA_MORNING)
    row = deliveries(srv.engine)["U0ANA"]
    with session(srv.engine) as s:
        asked = questions_of(s, row.pulse_id)
    question = next(asked[key] for key in row.question_keys if asked[key].scale != "text")
    core = srv.core

    def crashed(*_args, **_kwargs):  # recorded and acked, never processed by this process
        core._queued -= 1
        core.inflight.leave()

    monkeypatch.setattr(core, "_spawn", crashed)
    status, _ = await srv.slack_interaction(srv.block_actions(
        f"pulse.answer:{question.id}:{value_for(question, 'U0ANA')}", f"{row.pulse_id}:{question.id}:{value_for(question, 'U0ANA')}",
        user_id="U0ANA", channel="D0ANA"))
    assert status == 200
    with srv.engine.connect() as conn:
        stored = conn.execute(text("SELECT key, payload FROM inbound_jobs WHERE status = 'accepted'")).one()
    waiting = f"{stored.key} {stored.payload}"
    assert "U0ANA" not in waiting and "pulse.answer" not in waiting and f"{row.pulse_id}:{question.id}:" not in waiting, waiting
    assert answers(srv.engine) == []

    monkeypatch.undo()
    assert await core.resume_accepted(everything=True) == 1
    await handled(srv)
    assert len(answers(srv.engine)) == 1


# --- the person with two accounts -----------------------------------------------------------


SMALL_YAML = """
pulses: {min_group_size: 3, questions_per_pulse: 1}
teams:
  support:
    name: Customer Support
    timezone: Europe/Berlin
    leads: [ana@example.com]
    members: [ana@example.com, bob@example.com, carla@example.com]
"""


async def test_lead_with_a_teams_account_is_not_one_of_the_n_others(database_url, fake_slack, fake_connector):
    """Issue 12.3: with N = 3, /pulse send counted the lead's Teams account as one of the 3 other members."""
    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, SMALL_YAML)
    try:
        seed_people(srv.engine)
        seed_people(srv.engine, [("29:ana", "Ana Lima", "ana@example.com", "Asia/Tokyo")], platform="teams")  # her later account
        state = adhoc_form()
        await srv.slack_interaction(srv.view_submission("pulse.send", state, user_id="U0ANA"))
        notice = (await srv.slack.wait_for("chat.postMessage"))[0]
        assert "has 2 reachable member(s) besides you" in notice.params["text"] and "needs at least 3" in notice.params["text"]
        assert count(srv.engine, Pulse) == 0 and srv.connector.sent == []
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_person_on_slack_and_teams_is_one_recipient_and_one_respondent(pulse_server):
    """Issue 12.3: the same person answered the same question twice, once per platform."""
    srv = pulse_server
    engine = srv.engine
    seed_people(engine, [("29:bob", "Bob Stone", "bob@example.com", "Europe/Berlin")], platform="teams")
    await srv.teams_send(srv.teams_activity("help", sender=("29:bob", "Bob Stone")))  # installs the bot on Teams
    await srv.connector.wait_for(1)
    await tick(srv, BERLIN_MORNING)
    with session(engine) as s:
        rows = s.execute(select(PulseDelivery)).scalars().all()
    # Six people, seven accounts: one delivery for Bob's two (Carla's waits for Los Angeles' morning).
    assert len(rows) == 6 and count(engine, User, User.email == "bob@example.com") == 2
    bob_delivery = next(d for d in rows if d.platform == "teams")  # his latest-seen account
    pulse_id = bob_delivery.pulse_id
    with session(engine) as s:
        enps = questions_of(s, pulse_id)["enps"]

    # From Slack, Bob asks for his open questions: his Teams delivery, no second one.
    await srv.slack_command("/pulse", "", user_id="U0BOB")
    await srv.slack.wait_for("response_url")
    assert count(engine, PulseDelivery) == 6
    # He answers on Slack (accepted: it is his question) and again on Teams: one row, the latest value.
    await click(srv, "U0BOB", pulse_id, enps, 3)
    conversation = {"conversationType": "personal", "tenantId": "tenant-1", "id": "a:personal-29:bob"}
    data = {"action_id": f"pulse.answer:{enps.id}:9", "value": f"{pulse_id}:{enps.id}:9"}
    await srv.teams_send(srv.teams_submit(data, sender=("29:bob", "Bob Stone"), reply_to_id=bob_delivery.platform_ref.rpartition("|")[2], conversation=conversation))
    await handled(srv)
    rows = [a for a in answers(engine) if a.question_id == enps.id]
    assert [a.value for a in rows] == [9]
    assert rows[0].respondent == respondent_key(SECRET, person_id(engine, "U0BOB"), pulse_id)
    # The Teams click was recorded before its 201 like the Slack one; its row, kept after processing
    # so a redelivery is still recognised, says neither who clicked (their 1:1 chat) nor what.
    with srv.engine.connect() as conn:
        jobs = conn.execute(text("SELECT key, payload FROM inbound_jobs WHERE platform = 'teams'")).all()
    assert jobs
    for key, payload in jobs:
        stored = f"{key} {payload}"
        assert "29:bob" not in stored and "a:personal" not in stored and "pulse.answer" not in stored, stored


# --- guarantees that must fail loudly when broken (issue 12.4) ------------------------------


async def test_respondent_keys_differ_per_pulse_so_answers_cannot_be_linked_across_pulses(pulse_server):
    srv = pulse_server
    await tick(srv, LA_MORNING)
    await answer_all(srv, "U0BOB")
    await tick(srv, LA_MORNING + timedelta(days=7))  # next week's pulse
    with session(srv.engine) as s:
        bob = s.execute(select(User.id).where(User.external_id == "U0BOB")).scalar_one()
        second = s.execute(select(PulseDelivery).where(PulseDelivery.user_id == bob).order_by(PulseDelivery.pulse_id.desc())).scalars().first()
        asked = questions_of(s, second.pulse_id)
    q = asked[second.question_keys[0]]
    await click(srv, "U0BOB", second.pulse_id, q, value_for(q, "U0BOB"))
    by_pulse: dict[int, set[str]] = {}
    for a in answers(srv.engine):
        by_pulse.setdefault(a.pulse_id, set()).add(a.respondent)
    assert len(by_pulse) == 2
    first_keys, second_keys = by_pulse.values()
    assert not first_keys & second_keys


async def test_teamhealth_honours_a_pulses_own_higher_minimum_and_buckets_participation(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        upsert = lambda ext, name, email: _user(server.engine, ext, name, email)  # noqa: E731
        upsert("U0ANA", "Ana Lima", "ana@example.com")
        # Six answers of 4 (engagement 75) under a pulse that was asked with min_group_size 7.
        seed_pulse(server.engine, "support", date(2026, 11, 10), {("growth", "likert"): [4] * 6}, asked=8, answered=6, min_group_size=7)
        # Three of six answered another pulse: below the minimum, so not even the count is shown.
        seed_pulse(server.engine, "support", date(2026, 10, 6), {("growth", "likert"): [2, 2, 2]}, asked=6, answered=3)
        await server.slack_command("/teamhealth", "support month", user_id="U0ANA")
        november = slack_texts((await server.slack.wait_for("response_url"))[0])
        assert "75/100" not in november and "not enough responses" in november
        assert "75%" not in november and "fewer than 5 respondents per pulse" in november  # 6 of 8 would be 75%
        server.core.clock = lambda: __import__("datetime").datetime(2026, 10, 20, 12, tzinfo=__import__("datetime").UTC)
        await server.slack_command("/teamhealth", "support month", user_id="U0ANA")
        october = slack_texts((await server.slack.wait_for("response_url", 2))[1])
        assert "50%" not in october and "fewer than 5 respondents per pulse" in october


def _user(engine, ext, name, email):
    with write_unit(engine) as s:
        return upsert_user(s, platform="slack", external_id=ext, display_name=name, email=email).id


async def test_retention_blanks_free_text_answers_as_well_as_comments(pulse_server):
    srv = pulse_server
    await tick(srv, LA_MORNING)
    pulse = only_pulse(srv.engine)
    with write_unit(srv.engine) as s:
        text_q = PulseQuestion(pulse_id=pulse.id, question_key="open-text", driver="voice", text="Anything else?", scale="text", choices=[], allow_comment=False)
        score_q = PulseQuestion(pulse_id=pulse.id, question_key="open-score", driver="voice", text="Score?", scale="likert", choices=[], allow_comment=True)
        s.add_all([text_q, score_q])
        s.flush()
        s.add(PulseAnswer(pulse_id=pulse.id, question_id=text_q.id, respondent="r1", text="I am the only designer here", polarity=0.0, answered_on=pulse.cycle_date))
        s.add(PulseAnswer(pulse_id=pulse.id, question_id=score_q.id, respondent="r1", value=2, comment="Ask the only designer", polarity=0.0, answered_on=pulse.cycle_date))
    with write_unit(srv.engine) as s:
        purge_before(s, CLOSED + timedelta(days=400))
    rows = answers(srv.engine)
    assert {(a.text, a.comment) for a in rows} == {(None, None)}
    assert sorted(a.value for a in rows if a.value is not None) == [2]  # the numbers stay


async def test_a_participation_goal_shows_no_figure_for_pulses_below_their_minimum(database_url, fake_slack, fake_connector):
    """The goal bar is a participation figure too: 6 of 8 under a pulse's own minimum of 7 must not show as
    75% (nor as 94% of an 80% target), or a lead learns the count /teamhealth hides."""
    yaml = ORG_YAML + "teamhealth:\n  goals:\n    - {key: answer, title: Everyone answers, metric: participation, target: 80, period: month, teams: [support]}\n"
    async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:
        _user(server.engine, "U0ANA", "Ana Lima", "ana@example.com")
        seed_pulse(server.engine, "support", date(2026, 11, 10), {("growth", "likert"): [4] * 6}, asked=8, answered=6, min_group_size=7)
        await server.slack_command("/goals", "", user_id="U0ANA")
        listing = slack_texts((await server.slack.wait_for("response_url"))[0])
        assert "Everyone answers" in listing and "not enough responses or no data" in listing
        assert "75%" not in listing and "94%" not in listing and "▓" not in listing
        # With the pulse's own minimum met the same goal shows its real progress.
        seed_pulse(server.engine, "support", date(2026, 11, 17), {("growth", "likert"): [4] * 8}, asked=8, answered=8, min_group_size=7)
        await server.slack_command("/goals", "", user_id="U0ANA")
        listing = slack_texts((await server.slack.wait_for("response_url", 2))[1])
        assert "Pulse participation 100%" in listing and "✅" in listing
