"""Data rights with micro-pulses: exports hide small groups, deleting a person and retention leave pulse aggregates as they were."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.kernel.db import session
from storage.pulses.tables import Pulse, PulseAnswer, PulseDelivery
from storage.pulses.queries import questions_of
from storage.directory.tables import User
from tests.datarights_support import cli, rows_mentioning
from tests.pulse_helpers import PEOPLE, PULSE_YAML, TUESDAY, count, deliveries, pulse_server_for, seed_people, tick

EXPORT = ("export", "--team", "support", "--format", "csv", "--period", "month", "--periods", "2", "--until", "2026-12-31")
COMMENT = "Secret worry about my manager"


@pytest.fixture
async def srv(database_url, fake_slack, fake_connector):
    runner, server = await pulse_server_for(database_url, fake_slack, fake_connector)
    seed_people(server.engine)
    server.database_url = database_url
    yield server
    await runner.cleanup()
    server.engine.dispose()


async def answer(srv, user: str, question, value: int, pulse_id: int) -> None:
    await srv.slack_interaction(srv.block_actions(f"pulse.answer:{question.id}:{value}", f"{pulse_id}:{question.id}:{value}", user_id=user, channel="D" + user[1:]))


async def two_pulses(srv) -> str:
    """November: 5 of 6 answer eNPS, 3 answer the other question. December: 2 of 6 answer. Returns November's other driver."""
    await tick(srv, TUESDAY + timedelta(days=1))
    first = deliveries(srv.engine)["U0BOB"].pulse_id
    with session(srv.engine) as s:
        questions = questions_of(s, first)
    enps = questions["enps"]
    (other,) = [q for key, q in questions.items() if key != "enps"]
    for user, value in [("U0ANA", 10), ("U0BOB", 9), ("U0CARLA", 3), ("U0DAN", 7), ("U0ERIN", 10)]:
        await answer(srv, user, enps, value, first)
    for user, value in [("U0ANA", 4), ("U0BOB", 2), ("U0CARLA", 5)]:
        await answer(srv, user, other, value, first)
    await srv.slack_interaction(
        srv.view_submission("pulse.comment", {"comment": {"type": "plain_text_input", "value": COMMENT}}, user_id="U0CARLA", private_metadata=f"{first}:{enps.id}")
    )
    await tick(srv, TUESDAY + timedelta(days=8))  # closes November's pulse, opens December's
    with session(srv.engine) as s:
        second = s.execute(select(Pulse.id).order_by(Pulse.id.desc())).scalars().first()
        december = list(questions_of(s, second).values())
    for user in ("U0BOB", "U0CARLA"):
        for q in december:
            await answer(srv, user, q, 4, second)
    await tick(srv, TUESDAY + timedelta(days=12))
    assert count(srv.engine, Pulse, Pulse.status == "closed") == 2
    assert count(srv.engine, PulseAnswer) == 5 + 3 + 2 * len(december)
    return other.driver


def export(srv, tmp_path) -> tuple[str, list[dict[str, str]]]:
    config = tmp_path / "org.yaml"
    config.write_text(PULSE_YAML, encoding="utf-8")
    result = cli(tmp_path, srv.database_url, *EXPORT, config=config)
    assert result.returncode == 0, result.stderr
    return result.stdout, list(csv.DictReader(io.StringIO(result.stdout)))


async def test_export_shows_pulse_aggregates_only_for_groups_of_the_minimum_size(srv, tmp_path):
    driver = await two_pulses(srv)
    text, (november, december) = export(srv, tmp_path)

    assert (november["period"], december["period"]) == ("2026-11", "2026-12")
    assert (november["pulses"], november["pulse_invited"], november["pulse_responded"], november["participation_percent"]) == ("1", "6", "5", "83")
    assert november["enps"] == "+40"  # 3 promoters, 1 detractor of 5
    assert november[f"avg_{driver}"] == ""  # 3 answers < 5
    assert f"{driver}: 1 question(s) with fewer answers than the minimum group size left out" in november["note"]
    # December: two people answered; nothing about them is shown, not even how many they were.
    assert december["pulses"] == "1"
    pulse_cells = [v for k, v in december.items() if k in ("pulse_invited", "pulse_responded", "participation_percent", "enps") or k.startswith("avg_")]
    assert pulse_cells and all(v == "" for v in pulse_cells)
    assert "participation: 1 pulse(s) with fewer respondents than the minimum group size left out" in december["note"]
    assert COMMENT not in text
    for _, name, email, _ in PEOPLE:
        assert name not in text and email not in text


async def test_deleting_a_respondent_leaves_pulse_aggregates_unchanged_and_no_trace(srv, tmp_path):
    await two_pulses(srv)
    before, _ = export(srv, tmp_path)
    with session(srv.engine) as s:
        answers_before = sorted((a.pulse_id, a.question_id, a.value, a.comment) for a in s.execute(select(PulseAnswer)).scalars())
        deliveries_before = sorted((d.pulse_id, d.answered, d.status) for d in s.execute(select(PulseDelivery)).scalars())

    result = cli(tmp_path, srv.database_url, "user", "delete", "bob@example.com", "--yes")
    assert result.returncode == 0, result.stderr
    assert "pulse deliveries anonymised: 2" in result.stdout

    assert rows_mentioning(srv.engine, ["bob@example.com", "U0BOB", "Bob Stone"]) == []
    after, _ = export(srv, tmp_path)
    assert after == before
    with session(srv.engine) as s:
        assert sorted((a.pulse_id, a.question_id, a.value, a.comment) for a in s.execute(select(PulseAnswer)).scalars()) == answers_before
        assert sorted((d.pulse_id, d.answered, d.status) for d in s.execute(select(PulseDelivery)).scalars()) == deliveries_before
        anonymous = s.execute(select(PulseDelivery).join(User, User.id == PulseDelivery.user_id).where(User.platform == "erased")).scalars().all()
        assert len(anonymous) == 2 and all(d.platform_ref is None and d.answered for d in anonymous)


async def test_retention_drops_old_pulse_comments_and_keeps_every_number(srv, tmp_path):
    await two_pulses(srv)
    before, _ = export(srv, tmp_path)
    with session(srv.engine) as s:
        numbers = sorted((a.id, a.value, a.polarity, a.answered_on) for a in s.execute(select(PulseAnswer)).scalars())

    srv.clock.now = TUESDAY + timedelta(days=365)  # the comment is 364 days old: kept
    await srv.core.jobs["retention.purge"](srv.core)
    assert count(srv.engine, PulseAnswer, PulseAnswer.comment == COMMENT) == 1
    srv.clock.now = TUESDAY + timedelta(days=367)
    await srv.core.jobs["retention.purge"](srv.core)
    await srv.core.jobs["retention.purge"](srv.core)  # a second run (another replica, a retry) changes nothing
    assert count(srv.engine, PulseAnswer, PulseAnswer.comment.is_not(None)) == 0
    with session(srv.engine) as s:
        assert sorted((a.id, a.value, a.polarity, a.answered_on) for a in s.execute(select(PulseAnswer)).scalars()) == numbers
    after, _ = export(srv, tmp_path)
    assert after == before


def test_driver_averages_use_only_questions_with_enough_answers():
    from bot.datarights.export import _pulse_cells
    from storage.datarights.export import PulseFigures, QuestionFigures

    pulses = [
        PulseFigures(5, 8, 6, [QuestionFigures("likert", "growth", 6, [4, 4, 5, 3, 4, 4]), QuestionFigures("likert", "workload", 4, [1, 1, 2, 1])]),
        PulseFigures(3, 8, 5, [QuestionFigures("likert", "growth", 5, [2, 2, 2, 2, 2]), QuestionFigures("text", "growth", 5, [])]),
    ]
    cells, notes = _pulse_cells(pulses, 5, ["growth", "workload"])
    assert cells["avg_growth"] == f"{(24 + 10) / 11:.2f}" and cells["avg_workload"] == ""
    assert (cells["pulse_invited"], cells["pulse_responded"], cells["participation_percent"]) == ("16", "11", "69")
    assert notes == ["workload: 1 question(s) with fewer answers than the minimum group size left out"]
    # The organisation's minimum wins when it is higher than the one a pulse was asked under.
    cells, notes = _pulse_cells(pulses[1:], 6, ["growth"])
    assert cells["avg_growth"] == "" and cells["pulse_responded"] == "" and len(notes) == 2
