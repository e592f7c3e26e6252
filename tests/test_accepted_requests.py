"""Requests are recorded before their ack and processed once, off the HTTP loop (issue 17).

Through the public surface: signed Slack requests and Teams activities into a real `pulsebridge run`
(for the crash) or the in-process app, against the fake Slack Web API and Bot Framework connector on loopback.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from urllib.parse import urlencode

import aiohttp
from sqlalchemy import event, func, select, text

from bot.kernel import core as core_mod
from storage.kernel.db import make_engine, session
from storage.kernel.tables import InboundJob, OutboxMessage
from storage.recognition.tables import Kudos
from tests.conftest import ORG_YAML, connector_host, fixture_json, handled, teams_activity
from tests.recognition_support import static, text_input, users
from tests.test_operations import free_port, run_env, signed, wait_healthy


def kudos_body(fake_slack_url: str, text: str = "<@U0BOB|bob> for the calm release night") -> bytes:
    return urlencode({
        "command": "/kudos", "text": text, "user_id": "U0ANA", "user_name": "ana",
        "team_id": "T0001", "channel_id": "D0ANA", "trigger_id": f"1.2.{uuid.uuid4().hex}",
        "response_url": f"{fake_slack_url}/response/{uuid.uuid4().hex}",
    }).encode()


def kudos_form_body(view_id: str = "VKILL0001", view_hash: str = "h1", reason: str = "the calm release night", recipient: str = "U0BOB") -> bytes:
    """A signed-ready view_submission of the kudos modal, as Slack sends it (form field `payload`)."""
    payload = fixture_json("slack/view_submission.json")
    payload["user"] = {"id": "U0ANA", "username": "ana", "name": "ana", "team_id": "T0001"}
    payload["view"].update({"id": view_id, "hash": view_hash, "callback_id": "kudos.give", "private_metadata": ""})
    state = {"recipients": users(recipient), "reason": text_input(reason), "value": static(None), "visibility": static("public")}
    payload["view"]["state"] = {"values": {field: {field: value} for field, value in state.items()}}
    return urlencode({"payload": json.dumps(payload)}).encode()


async def start_run(database_url, fake_slack, config, **extra_env: str):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # PostgreSQL: a row another process started this long ago is taken up (SQLite: every row, at start-up).
    env = run_env(database_url, fake_slack.url, config, PULSEBRIDGE_RESUME_AFTER_SECONDS="1", **extra_env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "run", "--host", "127.0.0.1", "--port", str(port),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    await wait_healthy(url, proc)
    return proc, url


async def answered_then_sigkilled(proc, url: str, body: bytes, after_answer=None, *, path: str = "/slack/events", headers=None) -> tuple[int, str]:
    """POST a body (default: signed, to Slack's endpoint), wait for `after_answer()` if given, then SIGKILL the server; the HTTP answer."""
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(url + path, data=body, headers=headers or signed(body)) as resp:
                answer = resp.status, await resp.text()
        if after_answer is not None:
            await after_answer()
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return answer


async def test_a_kudos_acked_before_a_sigkill_is_stored_and_confirmed_once_after_the_restart(database_url, fake_slack, tmp_path):
    config = tmp_path / "org.yaml"
    config.write_text(ORG_YAML)
    # The first process acks, then hangs in its profile lookup: killed after the ack, before the kudos is stored.
    hang = fake_slack.gates["users.info"] = asyncio.Event()  # released below, so the fake's teardown does not wait it out
    proc, url = await start_run(database_url, fake_slack, config)
    body = kudos_body(fake_slack.url)
    status, _ = await answered_then_sigkilled(proc, url, body, lambda: fake_slack.wait_for("users.info", 1))
    assert status == 200
    engine = make_engine(database_url)
    try:
        with session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Kudos)) == 0
            assert s.scalar(select(func.count()).select_from(InboundJob).where(InboundJob.status == "accepted")) == 1
        assert fake_slack.calls_to("response_url") == []

        del fake_slack.gates["users.info"]
        hang.set()
        await asyncio.sleep(1.1)
        proc, url = await start_run(database_url, fake_slack, config)
        try:
            confirmation = (await fake_slack.wait_for("response_url", 1, timeout=20))[0]
            assert "bob" in str(confirmation.params).lower()
            await fake_slack.wait_for("chat.postMessage", 2, timeout=20)
            # Slack retrying the same delivery now changes nothing: recorded once, processed once.
            async with aiohttp.ClientSession() as http:
                async with http.post(url + "/slack/events", data=body, headers=signed(body)) as resp:
                    assert resp.status == 200
            def job_statuses() -> list[str]:
                # A session per look: on SQLite (WAL) one read transaction keeps seeing its first snapshot.
                with session(engine) as s:
                    return [row.status for row in s.execute(select(InboundJob)).scalars()]

            for _ in range(100):
                if job_statuses() == ["done"]:
                    break
                await asyncio.sleep(0.05)
            assert job_statuses() == ["done"]
            with session(engine) as s:
                assert s.scalar(select(func.count()).select_from(Kudos)) == 1
                assert {status for (status,) in s.execute(select(OutboxMessage.status))} == {"sent"}
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
        assert len(fake_slack.calls_to("response_url")) == 1
        assert len(fake_slack.calls_to("chat.postMessage")) == 2
    finally:
        engine.dispose()


async def test_a_form_acked_at_its_deadline_then_sigkilled_is_stored_and_confirmed_once_after_the_restart(database_url, fake_slack, tmp_path):
    """A modal's ack closes it; the submission must survive a crash after that like a command does."""
    config = tmp_path / "org.yaml"
    config.write_text(ORG_YAML)
    hang = fake_slack.gates["users.info"] = asyncio.Event()  # the handler is still looking people up at the deadline
    secret = {"PULSEBRIDGE_SECRET_KEY": "k" * 40}  # the waiting row is sealed, and opened by the restart
    proc, url = await start_run(database_url, fake_slack, config, **secret)
    body = kudos_form_body()
    assert await answered_then_sigkilled(proc, url, body) == (200, "")  # closed at VIEW_ACK_SECONDS
    engine = make_engine(database_url)

    def job_rows() -> list[tuple[str, str]]:
        with session(engine) as s:  # a session per look (SQLite WAL snapshots)
            return [(row.kind, row.status) for row in s.execute(select(InboundJob)).scalars()]

    try:
        assert job_rows() == [("form", "accepted")]
        with session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Kudos)) == 0
            stored = str(s.execute(text("SELECT payload FROM inbound_jobs")).scalar_one())
        assert "calm release" not in stored and "U0ANA" not in stored and "U0BOB" not in stored
        assert fake_slack.calls_to("chat.postMessage") == []

        del fake_slack.gates["users.info"]
        hang.set()
        await asyncio.sleep(1.1)
        proc, url = await start_run(database_url, fake_slack, config, **secret)
        try:
            def to_ana():
                return [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == "U0ANA"]

            for _ in range(200):
                if to_ana() and job_rows() == [("form", "done")]:
                    break
                await asyncio.sleep(0.05)
            assert job_rows() == [("form", "done")]
            assert "Kudos sent to" in str(to_ana()[0].params)  # the modal is long closed: the answer comes by DM
            # The same submission once more (a client's retry): recorded once, answered with a plain close.
            async with aiohttp.ClientSession() as http:
                async with http.post(url + "/slack/events", data=body, headers=signed(body)) as resp:
                    assert resp.status == 200 and await resp.text() == ""
            assert job_rows() == [("form", "done")]
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
        with session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Kudos)) == 1
        assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == "U0ANA"]) == 1
    finally:
        engine.dispose()


async def test_a_teams_kudos_answered_201_before_a_sigkill_is_stored_and_answered_once_after_the_restart(database_url, fake_slack, fake_connector, tmp_path):
    """The 201 goes out once the activity is recorded; the first process dies while looking the
    members up, and the restart answers in the conversation, under the person's message."""
    config = tmp_path / "org.yaml"
    config.write_text(ORG_YAML)
    teams = {"PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE": "true", "PULSEBRIDGE_TEAMS_SERVICE_HOSTS": connector_host(fake_connector), "PULSEBRIDGE_SECRET_KEY": "k" * 40}
    gate = fake_connector.member_gate = asyncio.Event()  # released below, so the fake's teardown does not wait it out
    proc, url = await start_run(database_url, fake_slack, config, **teams)
    activity = teams_activity(fake_connector.url, "<at>pulsebridge</at> kudos <at>Bob Stone</at> for the calm release night", mentions=[("29:bob", "Bob Stone")])
    body = json.dumps(activity).encode()
    headers = {"Content-Type": "application/json"}

    async def looking_up() -> None:
        for _ in range(400):
            if any("/members/" in path for _, path, _ in fake_connector.requests):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the member look-up never started")

    assert (await answered_then_sigkilled(proc, url, body, looking_up, path="/api/messages", headers=headers))[0] == 201
    engine = make_engine(database_url)

    def job_rows() -> list[tuple[str, str, str]]:
        with session(engine) as s:  # a session per look (SQLite WAL snapshots)
            return [(row.platform, row.kind, row.status) for row in s.execute(select(InboundJob)).scalars()]

    try:
        assert job_rows() == [("teams", "command", "accepted")]
        with session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Kudos)) == 0
            stored = str(s.execute(text("SELECT key, payload FROM inbound_jobs")).one())
        assert "calm release" not in stored and "29:ana" not in stored and "29:bob" not in stored and "a:personal" not in stored
        assert fake_connector.sent == []

        fake_connector.member_gate = None
        gate.set()
        await asyncio.sleep(1.1)
        proc, url = await start_run(database_url, fake_slack, config, **teams)
        try:
            sent = await fake_connector.wait_for(3, timeout=20)
            reply = [s for s in sent if s.conversation_id == activity["conversation"]["id"]]
            assert len(reply) == 1 and reply[0].reply_to == activity["id"] and "Kudos sent to" in json.dumps(reply[0].activity)
            # Teams redelivering the same activity now changes nothing: recorded once, processed once.
            async with aiohttp.ClientSession() as http:
                async with http.post(url + "/api/messages", data=body, headers=headers) as resp:
                    assert resp.status == 201
            for _ in range(100):
                if job_rows() == [("teams", "command", "done")]:
                    break
                await asyncio.sleep(0.05)
            assert job_rows() == [("teams", "command", "done")]
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
        with session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Kudos)) == 1
        assert sorted(s.conversation_id for s in fake_connector.sent) == ["19:support@thread.tacv2", "a:personal-29:ana", "a:personal-29:bob"]
    finally:
        engine.dispose()


async def test_a_form_is_recorded_before_its_ack_and_a_corrected_resubmission_is_not_taken_for_a_retry(server):
    """The same view (id and hash) submitted with a refused value, then corrected: both are new
    submissions; the identical one sent again is a retry, recorded and processed once."""
    refused = kudos_form_body(view_id="VSAME0001", recipient="U0ANA")  # to oneself: refused in the ack
    status, text_ = await server.slack_raw(refused)
    assert status == 200 and json.loads(text_)["response_action"] == "errors" and "yourself" in text_
    corrected = kudos_form_body(view_id="VSAME0001", recipient="U0BOB")
    for _ in range(2):
        status, text_ = await server.slack_raw(corrected)
        assert status == 200 and "errors" not in text_
    await handled(server)
    with session(server.engine) as s:
        assert s.scalar(select(func.count()).select_from(Kudos)) == 1
        assert sorted((job.kind, job.status) for job in s.execute(select(InboundJob)).scalars()) == [("form", "done")] * 2
    to_ana = [c for c in server.slack.calls_to("chat.postMessage") if c.params.get("channel") == "U0ANA"]
    assert len(to_ana) == 1 and "Kudos sent to" in str(to_ana[0].params)


async def test_a_form_whose_handler_fails_tells_the_person(server, monkeypatch):
    from bot.recognition import kudos as kudos_mod

    async def broken(core, event):
        raise RuntimeError("a bug")

    monkeypatch.setitem(server.core.forms, kudos_mod.FORM_ID, broken)
    status, text_ = await server.slack_raw(kudos_form_body(view_id="VBROKEN01"))
    assert status == 200 and text_ == ""
    await handled(server)
    to_ana = [c for c in server.slack.calls_to("chat.postMessage") if c.params.get("channel") == "U0ANA"]
    assert len(to_ana) == 1 and "may not have been saved" in str(to_ana[0].params)
    with session(server.engine) as s:
        job = s.execute(select(InboundJob)).scalar_one()
        assert (job.status, job.last_error, job.payload) == ("failed", "RuntimeError", {})


async def test_a_waiting_row_sealed_under_another_key_is_marked_failed_not_guessed_at(server):
    """The secret key changed while a request waited (after a crash): the resume cannot open it, so it
    is marked failed with its payload blanked, and the other waiting rows are still processed."""
    from bot.kernel.sealed import Sealer
    from storage.kernel.db import write_unit

    other = Sealer("another-secret-key-of-at-least-32-chars")
    with write_unit(server.engine) as s:
        s.add(InboundJob(key="slack:T0001:command:old-key", kind="command", platform="slack", payload=other.seal("slack:T0001:command:old-key", {"event": {}})))
    assert await server.core.resume_accepted(everything=True) == 0
    with session(server.engine) as s:
        job = s.execute(select(InboundJob)).scalar_one()
        assert (job.status, job.last_error, job.payload) == ("failed", "undecodable", {})


async def test_an_ack_later_than_bolts_window_is_still_the_answer_sent(server):
    """The HTTP answer is the listener's own ack, however late (a slow disk, a loaded machine): not
    the 404 that bolt's 3 s ack poll gave while the request it had recorded was processed anyway."""
    record = server.core.intake.record

    async def slow_record(row):
        await asyncio.sleep(3.3)
        return await record(row)

    server.core.intake.record = slow_record
    status, _ = await server.slack_command("/kudos", "<@U0BOB|bob> for answering in the end")
    assert status == 200
    await handled(server)
    with session(server.engine) as s:
        assert s.scalar(select(func.count()).select_from(Kudos)) == 1


async def test_the_ack_waits_for_nothing_but_the_record(server):
    """While the profile lookup hangs, the command is already acknowledged and recorded."""
    server.slack.delays["users.info"] = 3
    status, _ = await server.slack_command("/kudos", "<@U0BOB|bob> for the migration plan")
    assert status == 200
    with session(server.engine) as s:
        job = s.execute(select(InboundJob)).scalar_one()
        assert (job.kind, job.status) == ("command", "accepted")
        assert s.scalar(select(func.count()).select_from(Kudos)) == 0
    del server.slack.delays["users.info"]
    await handled(server)
    with session(server.engine) as s:
        assert s.execute(select(InboundJob.status)).scalar_one() == "done"
        assert s.scalar(select(func.count()).select_from(Kudos)) == 1


async def test_a_teams_message_gets_its_201_once_recorded_while_the_member_look_ups_wait(server):
    gate = server.connector.member_gate = asyncio.Event()
    activity = server.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for the migration plan", mentions=[("29:bob", "Bob Stone")])
    status, _ = await server.teams_send(activity)
    assert status == 201
    with session(server.engine) as s:
        job = s.execute(select(InboundJob)).scalar_one()
        assert (job.platform, job.kind, job.status) == ("teams", "command", "accepted")
        assert s.scalar(select(func.count()).select_from(Kudos)) == 0
    assert server.connector.sent == []
    gate.set()
    await handled(server)
    with session(server.engine) as s:
        assert s.execute(select(InboundJob.status)).scalar_one() == "done"
        assert s.scalar(select(func.count()).select_from(Kudos)) == 1
    [reply] = server.connector.sent_to(activity["conversation"]["id"])
    assert reply.reply_to == activity["id"] and "Kudos sent to" in json.dumps(reply.activity)


async def test_a_full_queue_refuses_instead_of_accepting(server, monkeypatch):
    monkeypatch.setattr(core_mod, "MAX_QUEUED", 0)
    status, _ = await server.slack_command("/kudos", "<@U0BOB|bob> for the migration plan")
    assert status == 200  # a slash command is answered with "busy, try again" in the ack itself
    status, _ = await server.slack_interaction(server.block_actions("kudos-for-win", "1"))
    assert status == 503
    status, _ = await server.teams_send(server.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for the plan", mentions=[("29:bob", "Bob Stone")]))
    assert status == 503  # not a 201: Teams redelivers it later
    assert server.connector.sent == []
    await handled(server)
    with session(server.engine) as s:
        assert s.scalar(select(func.count()).select_from(InboundJob)) == 0
        assert s.scalar(select(func.count()).select_from(Kudos)) == 0
    assert server.slack.calls_to("response_url") == []


async def test_follow_ups_are_queued_before_the_reply_and_sent_when_the_reply_fails(server):
    """Issue 14: the confirmation cannot be sent (its response_url refuses connections); the DMs and
    the channel post still go out."""
    from tests.test_operations import free_port

    dead = f"http://127.0.0.1:{free_port()}/response/{uuid.uuid4().hex}"
    status, _ = await server.slack_command("/kudos", "<@U0BOB|bob> <@U0DAN|dan> for rescuing the renewal", response_url=dead)
    assert status == 200
    await handled(server)
    with session(server.engine) as s:
        assert s.scalar(select(func.count()).select_from(Kudos)) == 1
        statuses = [status for (status,) in s.execute(select(OutboxMessage.status))]
    assert statuses and set(statuses) == {"sent"}
    assert len(statuses) >= 3 and len(server.slack.calls_to("chat.postMessage")) == len(statuses)  # 2 DMs, team posts
    assert server.slack.calls_to("response_url") == []


async def test_kudos_statements_per_request_stay_bounded(server):
    """Counted at the driver: the whole /kudos path (record, handler, outbox, bookkeeping)."""
    await server.slack_command("/kudos", "<@U0BOB|bob> for warming the caches")  # profiles now stored
    await handled(server)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(server.engine, "before_cursor_execute", count)
    try:
        status, _ = await server.slack_command("/kudos", "<@U0DAN|dan> for the second migration", user_id="U0ANA")
        assert status == 200
        await handled(server)
    finally:
        event.remove(server.engine, "before_cursor_execute", count)
    with session(server.engine) as s:
        assert s.scalar(select(func.count()).select_from(Kudos)) == 2
    print(f"{len(statements)} statements")
    assert len(statements) <= 50, "\n".join(statements)


async def test_a_backlog_waits_its_turn_in_arrival_order_with_a_few_handlers_at_once(server):
    """Twelve people's first /kudos while Slack's users.info hangs: LANE_CONCURRENCY of them are
    processed at once, the others wait as queued rows (not as twelve half-run handlers) and start in
    the order they were acknowledged once a slot frees."""
    givers = [f"U1Q{i:02d}" for i in range(12)]
    for uid in givers:
        server.slack.add_user(uid, f"Queued {uid}", f"{uid.lower()}@example.com")
    gate = server.slack.gates["users.info"] = asyncio.Event()
    lane = server.core.pool.lane_of(givers[0])
    assert {server.core.pool.lane_of(uid) for uid in givers} == {lane}

    def looked_up() -> list[str]:
        seen: list[str] = []
        for call in server.slack.calls_to("users.info"):
            if call.params.get("user") in givers and call.params["user"] not in seen:
                seen.append(call.params["user"])
        return seen

    for uid in givers:
        status, _ = await server.slack_command("/kudos", "<@U0BOB|bob> for keeping the queue moving", user_id=uid)
        assert status == 200
    await server.slack.wait_for("users.info", core_mod.LANE_CONCURRENCY)
    assert len(server.core._waiting[lane]) == len(givers) - core_mod.LANE_CONCURRENCY  # not started at all
    assert looked_up() == givers[: core_mod.LANE_CONCURRENCY]
    gate.set()
    await handled(server)
    assert looked_up() == givers  # the rest started in arrival order
    with session(server.engine) as s:
        assert s.scalar(select(func.count()).select_from(Kudos)) == len(givers)
