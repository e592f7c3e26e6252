"""Retention: raw feedback text older than the period is purged, daily and on demand; the numbers stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage.kernel.db import session
from storage.feedback.tables import CustomerKudos, Feedback
from storage.kernel.tables import OutboxMessage
from tests.conftest import make_settings, start_server, wait_for_scheduler
from tests.datarights_support import cli
from tests.feedback_support import FEEDBACK_ORG_YAML, WEBHOOK_SECRET, generic, post_feedback, seed_directory, start_feedback_server
from tests.test_datarights_delete import count, until



@pytest.fixture
async def srv(database_url, fake_slack, fake_connector):
    runner, server = await start_feedback_server(database_url, fake_slack, fake_connector)
    server.database_url = database_url
    yield server
    await runner.cleanup()
    server.engine.dispose()


async def seed(srv) -> datetime:
    """Praise and criticism from 400 days ago and from yesterday; returns the "now" they are counted from.

    Read from the clock when the test runs (under --clock that is the moved one), never at import."""
    now = datetime.now(UTC)
    for i, (days, score, text) in enumerate([(400, 5, "Bob Stone sorted our SSO, superb"), (400, 1, "Slow answers from Bob"), (1, 5, "Bob Stone fixed billing, superb"), (1, 2, "Bob never called back")]):
        when = (now - timedelta(days=days)).isoformat()
        payload = generic(text, id=f"r-{i}", score=score, created_at=when, agent={"email": "bob@example.com", "name": None, "id": None})
        assert (await post_feedback(srv, payload))[0] == 201
    await until(lambda: count(srv.engine, Feedback) == 4 and count(srv.engine, CustomerKudos) == 2)
    await until(lambda: count(srv.engine, OutboxMessage, OutboxMessage.status.in_(["pending", "sending"])) == 0)
    return now


def numbers(engine):
    with session(engine) as s:
        return s.execute(
            select(Feedback.id, Feedback.score, Feedback.scale, Feedback.sentiment, Feedback.status, Feedback.routed_user_id, Feedback.created_at).order_by(Feedback.id)
        ).all(), s.execute(select(CustomerKudos.id, CustomerKudos.user_id, CustomerKudos.score, CustomerKudos.created_at).order_by(CustomerKudos.id)).all()


def texts(engine):
    with session(engine) as s:
        return {f.external_id: (f.text, f.raw, f.route_detail) for f in s.execute(select(Feedback)).scalars()}, sorted(
            s.execute(select(CustomerKudos.quote)).scalars()
        )


async def test_retention_run_purges_only_old_text_and_keeps_counts_and_exports(srv, tmp_path):
    await seed(srv)
    before_numbers = numbers(srv.engine)
    export = ("export", "--team", "support", "--period", "quarter", "--periods", "6")
    before_export = cli(tmp_path, srv.database_url, *export).stdout
    assert before_export.count("\n") == 7

    result = cli(tmp_path, srv.database_url, "retention", "run")
    assert result.returncode == 0, result.stderr
    assert "retention 365 days: feedback texts and payloads purged: 2; customer kudos quotes purged: 1" in result.stdout

    feedback, quotes = texts(srv.engine)
    assert feedback["r-0"] == ("", {}, None) and feedback["r-1"] == ("", {}, None)
    assert feedback["r-2"][0] == "Bob Stone fixed billing, superb" and feedback["r-2"][1]["id"] == "r-2"
    assert feedback["r-3"][0] == "Bob never called back"
    assert quotes == ["", "Bob Stone fixed billing, superb"]
    assert numbers(srv.engine) == before_numbers
    assert cli(tmp_path, srv.database_url, *export).stdout == before_export

    again = cli(tmp_path, srv.database_url, "retention", "run")
    assert "purged: 0; customer kudos quotes purged: 0" in again.stdout
    assert texts(srv.engine) == (feedback, quotes)


async def test_a_longer_period_from_the_config_keeps_the_old_text(srv, tmp_path):
    await seed(srv)
    config = tmp_path / "org.yaml"
    config.write_text(FEEDBACK_ORG_YAML + "retention:\n  days: 500\n", encoding="utf-8")
    result = cli(tmp_path, srv.database_url, "retention", "run", config=config)
    assert "retention 500 days: feedback texts and payloads purged: 0" in result.stdout
    assert texts(srv.engine)[0]["r-0"][0] == "Bob Stone sorted our SSO, superb"


def test_a_retention_below_the_minimum_is_refused_naming_the_line(tmp_path):
    config = tmp_path / "org.yaml"
    config.write_text("teams: {}\nretention:\n  days: 7\n", encoding="utf-8")
    result = cli(tmp_path, f"sqlite:///{tmp_path}/x.db", "retention", "run", config=config)
    assert result.returncode == 2
    assert f"{config}:3: retention.days: Input should be greater than or equal to 30" in result.stderr


async def test_daily_job_is_scheduled_once_and_purges_with_the_core_clock(database_url, fake_slack, fake_connector):
    settings = make_settings(database_url, fake_slack.url, FEEDBACK_WEBHOOK_SECRET=WEBHOOK_SECRET, PULSEBRIDGE_SCHEDULER=True)
    runner, srv = await start_server(settings, fake_slack, fake_connector, FEEDBACK_ORG_YAML)
    try:
        seed_directory(srv.engine)
        await wait_for_scheduler(srv.core)
        job = srv.core.scheduler.apscheduler.get_job("retention:purge")
        assert job.kwargs == {"name": "retention.purge"}
        fields = {f.name: str(f) for f in job.trigger.fields}
        assert (fields["hour"], fields["minute"], fields["day_of_week"]) == ("4", "23", "*")
        first_run = job.next_run_time
        for hook in srv.core.startup_hooks:  # a re-elected leader runs the hooks again
            hook(srv.core)
        jobs = [j for j in srv.core.scheduler.apscheduler.get_jobs() if j.id == "retention:purge"]
        assert len(jobs) == 1 and jobs[0].next_run_time == first_run

        now = await seed(srv)
        srv.core.clock = lambda: now + timedelta(days=300)  # now the feedback from yesterday is 301 days old: kept
        await srv.core.jobs["retention.purge"](srv.core)
        assert [t for t, _, _ in texts(srv.engine)[0].values()].count("") == 2
        srv.core.clock = lambda: now + timedelta(days=367)
        await srv.core.jobs["retention.purge"](srv.core)
        assert [t for t, _, _ in texts(srv.engine)[0].values()] == ["", "", "", ""]
    finally:
        await runner.cleanup()
        srv.engine.dispose()
