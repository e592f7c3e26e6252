"""Issue 17's rule, checked at the driver: no SQL statement runs on the thread of the HTTP event loop.

Every statement is recorded with the thread that ran it (SQLAlchemy's before_cursor_execute), while
requests come in through the public endpoints of the in-process server, whose loop is this test's
loop. Database work belongs on the intake thread, the worker lanes or the `in_db_thread` pools: a
statement on the loop's thread stalls every other request's ack for as long as it takes.

Not covered: the browser playground (`pulsebridge demo`, one person on loopback) still reads its
few rows on the loop.
"""

from __future__ import annotations

import threading
import traceback

from sqlalchemy import event

import aiohttp

from tests.conftest import handled
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
