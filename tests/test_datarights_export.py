"""`pulsebridge export`: a team's numbers per period, as CSV; never a name, a text or a small group."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from bot.datarights.export import periods
from bot.teamhealth.periods import today_in
from storage.feedback.tables import Feedback
from storage.kernel.tables import OutboxMessage
from storage.recognition.tables import Kudos
from tests.datarights_support import cli
from tests.feedback_support import SLACK_PEOPLE, generic, post_feedback, start_feedback_server
from tests.test_datarights_delete import count, until


@pytest.fixture
async def srv(database_url, fake_slack, fake_connector):
    runner, server = await start_feedback_server(database_url, fake_slack, fake_connector)
    server.database_url = database_url
    yield server
    await runner.cleanup()
    server.engine.dispose()


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def seed(srv) -> None:
    await srv.slack_command("/kudos", "<@U0BOB|bob> <@U0CARLA|carla> for the Acme rescue")  # support → support
    await srv.slack_command("/kudos", "<@U0DAN|dan> for the runbook", user_id="U0BOB")  # support → platform
    await srv.slack_command("/kudos", "<@U0BOB|bob> for the late-night fix --private", user_id="U0ERIN")  # private: not counted
    now = datetime.now(UTC).isoformat()
    for i, (score, who) in enumerate([(5, "bob"), (4, "carla"), (2, "bob"), (5, "dan")]):
        payload = generic("Thanks for the help with our invoices", id=f"csat-{i}", score=score, created_at=now, agent={"email": f"{who}@example.com", "name": None, "id": None})
        assert (await post_feedback(srv, payload))[0] == 201
    await until(lambda: count(srv.engine, Kudos) == 3 and count(srv.engine, Feedback) == 4)
    await until(lambda: count(srv.engine, OutboxMessage, OutboxMessage.status.in_(["pending", "sending"])) == 0)


async def test_export_counts_kudos_and_customer_feedback_per_period_without_names(srv, tmp_path):
    await seed(srv)
    result = cli(tmp_path, srv.database_url, "export", "--team", "support", "--format", "csv", "--period", "month", "--periods", "3")
    assert result.returncode == 0, result.stderr
    rows = parse(result.stdout)
    assert [r["period"] for r in rows] == [p.label for p in periods("month", 3, today_in(datetime.now(UTC), "Europe/Berlin"))]  # support's timezone
    current = rows[-1]
    assert (current["kudos_received"], current["kudos_given"], current["customer_kudos"]) == ("1", "2", "2")
    assert (current["feedback"], current["feedback_positive"], current["feedback_negative"]) == ("3", "2", "1")
    assert (current["csat_responses"], current["csat_average"], current["csat_percent"]) == ("3", "3.67", "67")
    assert all(r["kudos_received"] == "0" and r["feedback"] == "0" and r["csat_average"] == "" for r in rows[:-1])
    for _, name, email in SLACK_PEOPLE:
        assert name not in result.stdout and email not in result.stdout
    assert "Acme" not in result.stdout and "invoices" not in result.stdout

    out = tmp_path / "platform.csv"
    written = cli(tmp_path, srv.database_url, "export", "--team", "platform", "--period", "week", "--periods", "1", "--out", str(out))
    assert written.returncode == 0 and written.stdout == ""
    (platform,) = parse(out.read_text(encoding="utf-8"))
    assert (platform["kudos_received"], platform["kudos_given"], platform["csat_responses"]) == ("1", "0", "1")


async def test_unknown_team_is_a_clear_error_with_exit_2(srv, tmp_path):
    result = cli(tmp_path, srv.database_url, "export", "--team", "sales", "--format", "csv")
    assert result.returncode == 2 and result.stdout == ""
    assert "pulsebridge: unknown team 'sales' (known teams: platform, support)" in result.stderr
    bad_format = cli(tmp_path, srv.database_url, "export", "--team", "support", "--format", "xlsx")
    assert bad_format.returncode == 2 and "'xlsx' is not 'csv'" in bad_format.stderr


def test_periods_are_calendar_weeks_months_and_quarters():
    assert [(p.label, p.start, p.end) for p in periods("quarter", 2, date(2026, 1, 15))] == [
        ("2025-Q4", date(2025, 10, 1), date(2026, 1, 1)),
        ("2026-Q1", date(2026, 1, 1), date(2026, 4, 1)),
    ]
    assert [p.label for p in periods("month", 2, date(2026, 1, 31))] == ["2025-12", "2026-01"]
    (week,) = periods("week", 1, date(2026, 11, 22))  # a Sunday
    assert (week.label, week.start, week.end) == ("2026-W47", date(2026, 11, 16), date(2026, 11, 23))
