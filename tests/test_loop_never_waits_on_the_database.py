"""Issue 17's rule, checked at the driver: no SQL statement runs on the thread of the HTTP event loop.

Every statement is recorded with the thread that ran it (SQLAlchemy's before_cursor_execute), while
requests come in through the public endpoints of the in-process server, whose loop is this test's
loop. Database work belongs on the intake thread, the worker lanes or the `in_db_thread` pools: a
statement on the loop's thread stalls every other request's ack for as long as it takes.

The scheduler is covered too: APScheduler's job store is read and rewritten at every wake-up, and
a lease won while serving (PostgreSQL) starts the scheduler and its features' jobs then. So is the
browser playground (`pulsebridge demo`), which is the same server.
"""

from __future__ import annotations

import asyncio
import threading
import traceback

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from sqlalchemy import event

import aiohttp

from tests.conftest import handled, make_settings, start_server, wait_for_scheduler
from tests.feedback_support import generic, post_feedback, start_feedback_server


class OnTheLoop:
    def __init__(self, engine):
        self.engine = engine
        self.loop_thread = threading.current_thread()
        self.found: list[str] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, *_args):
        if threading.current_thread() is self.loop_thread:
            where = [f"{f.filename.rsplit('/work/main/', 1)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_stack()
                     if "/site-packages/" not in f.filename and "/tests/" not in f.filename and "python3" not in f.filename]
            self.found.append(f"{statement.split()[0]} … from {' < '.join(reversed(where[-4:]))}")


async def test_a_teams_kudos_turn_and_its_replies_run_no_statement_on_the_loop(server):
    with OnTheLoop(server.engine) as watch:
        activity = server.teams_activity(
            "<at>pulsebridge</at> kudos <at>Bob Stone</at> for fixing the SSO outage in minutes #craft",
            mentions=[("29:bob", "Bob Stone")],
        )
        status, _ = await server.teams_send(activity)
        assert status in (200, 201)
        await server.connector.wait_for(3)
        await handled(server)
    assert watch.found == [], "\n".join(watch.found)


async def test_a_queued_teams_card_submission_and_a_resumed_teams_turn_run_no_statement_on_the_loop(server, monkeypatch):
    """A card submitted in a channel thread and refused (answered in the person's 1:1 chat, opened for
    it), then a message recorded by a process that "died" before processing it, resumed."""
    core = server.core
    thread = {"id": "19:support@thread.tacv2;messageid=1700000000001", "conversationType": "channel", "tenantId": "tenant-1"}
    to_herself = {"form_id": "kudos.give", "metadata": "", "multi": ["recipients"], "recipients": "29:ana", "reason": "being me"}

    def crashed(*_args, **_kwargs):  # recorded and answered 201, never processed by this process
        core._queued -= 1
        core.inflight.leave()

    with OnTheLoop(server.engine) as watch:
        status, _ = await server.teams_send(server.teams_submit(to_herself, conversation=thread))
        assert status == 201
        await handled(server)
        assert server.connector.sent_to("a:personal-29:ana"), "the refusal went to her 1:1 chat"
        monkeypatch.setattr(core, "_spawn", crashed)
        activity = server.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for the resumed turn", mentions=[("29:bob", "Bob Stone")])
        status, _ = await server.teams_send(activity)
        assert status == 201
        monkeypatch.undo()
        assert await core.resume_accepted(everything=True) == 1
        await handled(server)
        assert server.connector.sent_to(activity["conversation"]["id"]) and server.connector.sent_to("19:support@thread.tacv2")
    assert watch.found == [], "\n".join(watch.found)


async def test_a_slack_kudos_and_its_follow_ups_run_no_statement_on_the_loop(server):
    with OnTheLoop(server.engine) as watch:
        status, _ = await server.slack_command("/kudos", "<@U0BOB|bob> for the calm release night")
        assert status == 200
        await handled(server)
        assert server.slack.calls_to("chat.postMessage")
    assert watch.found == [], "\n".join(watch.found)


async def test_a_teams_people_search_runs_no_statement_on_the_loop(server):
    with OnTheLoop(server.engine) as watch:
        await server.teams_search("bo", "people.others")
    assert watch.found == [], "\n".join(watch.found)


async def test_healthz_and_a_feedback_webhook_run_no_statement_on_the_loop(database_url, fake_slack, fake_connector):
    runner, srv = await start_feedback_server(database_url, fake_slack, fake_connector)
    try:
        with OnTheLoop(srv.engine) as watch:
            async with aiohttp.ClientSession() as http:
                async with http.get(srv.url + "/healthz") as resp:
                    assert resp.status == 200 and (await resp.json())["database"] == "ok"
            status, answer = await post_feedback(srv, generic("Bob sorted our invoices out in minutes, thank you!", id="loop-1"))
            assert status == 201, answer
            await handled(srv)
        assert watch.found == [], "\n".join(watch.found)
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_the_scheduler_starts_and_runs_its_jobs_with_no_statement_on_the_loop(database_url, fake_slack, fake_connector):
    """Watched from the moment the server serves: on PostgreSQL the lease is usually won after that,
    so the scheduler's start and its features' job definitions are watched too."""
    runner, srv = await start_server(make_settings(database_url, fake_slack.url, PULSEBRIDGE_SCHEDULER=True), fake_slack, fake_connector)
    try:
        with OnTheLoop(srv.engine) as watch:
            scheduler = await wait_for_scheduler(srv.core)
            loop, ran = asyncio.get_running_loop(), asyncio.Event()
            outcomes = []

            def seen(ev) -> None:
                if ev.job_id == "outbox-retry":
                    outcomes.append(ev.code)
                    loop.call_soon_threadsafe(ran.set)

            scheduler.apscheduler.add_listener(seen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
            # As a job handler does (bot/pulses/schedule.py): from a worker, never the loop.
            await asyncio.to_thread(scheduler.run_soon, "outbox-retry")
            await asyncio.wait_for(ran.wait(), 10)
            assert outcomes == [EVENT_JOB_EXECUTED]
        assert watch.found == [], "\n".join(watch.found)
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_the_browser_playground_runs_no_statement_on_the_loop(database_url, fake_slack):
    from adapters.server import CORE
    from tests.test_playground import PULSE_KEY, WEBHOOK_SECRET, start_playground

    settings = make_settings(database_url, fake_slack.url, FEEDBACK_WEBHOOK_SECRET=WEBHOOK_SECRET, PULSEBRIDGE_SECRET_KEY=PULSE_KEY,
                             PULSEBRIDGE_SCHEDULER=True)
    runner, app, url = await start_playground(settings)
    core = app[CORE]
    try:
        await wait_for_scheduler(core)
        with OnTheLoop(core.engine) as watch:
            async with aiohttp.ClientSession(base_url=url) as http:
                async with http.get("/playground/api/state", params={"as": "ana"}) as resp:
                    assert resp.status == 200
                    jobs = {j["id"] for j in (await resp.json())["jobs"]}
                async with http.post("/playground/api/command", json={"as": "ana", "text": "/kudos @bob for the calm release night"}) as resp:
                    assert resp.status == 200, await resp.text()
                assert "demo:pulse:support" in jobs and "recognition-digest:support" in jobs
                for job in ("demo:pulse:support", "recognition-digest:support"):
                    async with http.post("/playground/api/tick", json={"job_id": job}) as resp:
                        assert resp.status == 200, await resp.text()
            await handled(core)
        assert watch.found == [], "\n".join(watch.found)
    finally:
        await runner.cleanup()
        core.engine.dispose()
