"""Operations: /metrics, log redaction and JSON lines, graceful shutdown of a real `pulsebridge run`."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import os
import re
import signal
import socket
import sys
import time
import uuid
from urllib.parse import urlencode

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.kernel.logs import JsonFormatter, RedactingFilter
from storage.kernel.db import make_engine, session
from storage.kernel.tables import OutboxMessage
from tests.conftest import ORG_YAML, SIGNING_SECRET, child_env, make_settings, start_server


async def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/metrics") as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"
            text = await resp.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, metric: str, /, **labels: str) -> float:
    return samples.get((metric, frozenset(labels.items())), 0.0)


async def test_metrics_count_requests_handlers_outbound_calls_and_429s(server):
    before = await scrape(server.metrics_url)
    server.slack.fail_next("chat.postMessage", 429)

    await server.slack_command("/kudos", "<@U0BOB|bob> for the clean release notes")
    await server.slack.wait_for("chat.postMessage", 2)
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for pairing", mentions=[("29:bob", "Bob Stone")]))
    await server.connector.wait_for(3)
    after = await scrape(server.metrics_url)

    def delta(metric, /, **labels):
        return value(after, metric, **labels) - value(before, metric, **labels)

    assert delta("pulsebridge_http_requests_total", route="/slack/events", method="POST", status="200") == 1
    assert delta("pulsebridge_http_requests_total", route="/api/messages", method="POST", status="201") + delta(
        "pulsebridge_http_requests_total", route="/api/messages", method="POST", status="200"
    ) == 1
    assert delta("pulsebridge_http_request_duration_seconds_count", route="/slack/events") == 1
    assert delta("pulsebridge_handler_duration_seconds_count", kind="command", name="kudos", outcome="ok") == 2
    assert delta("pulsebridge_outbound_rate_limited_total", platform="slack", method="chat.postMessage") == 1
    assert delta("pulsebridge_outbound_api_calls_total", platform="slack", method="chat.postMessage", outcome="ok") == 2
    assert delta("pulsebridge_outbound_api_calls_total", platform="teams", method="send_activity", outcome="ok") == 3
    assert delta("pulsebridge_outbox_messages_total", platform="slack", outcome="sent") == 2
    assert ("pulsebridge_pulse_deliveries_total", frozenset()) not in after  # labelled counter, exposed for the pulses feature


async def test_metrics_count_scheduler_jobs(database_url, fake_slack, fake_connector):
    settings = make_settings(database_url, fake_slack.url, PULSEBRIDGE_SCHEDULER=True, PULSEBRIDGE_DIRECTORY_SYNC_CRON="* * * * * *")
    runner, srv = await start_server(settings, fake_slack, fake_connector)
    try:
        before = value(await scrape(srv.metrics_url), "pulsebridge_scheduler_jobs_total", job="directory.sync", outcome="ok")
        deadline = time.monotonic() + 10
        while value(await scrape(srv.metrics_url), "pulsebridge_scheduler_jobs_total", job="directory.sync", outcome="ok") <= before:
            assert time.monotonic() < deadline, "the directory sync job never completed"
            await asyncio.sleep(0.1)
        assert value(await scrape(srv.metrics_url), "pulsebridge_scheduler_leader") == 1
    finally:
        await runner.cleanup()
        srv.engine.dispose()


def test_log_filter_redacts_tokens_secrets_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    redaction = RedactingFilter()
    redaction.add_secrets("app-password-value-123")
    handler.addFilter(redaction)
    log = logging.getLogger(f"test.redaction.{uuid.uuid4().hex}")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)

    log.warning("calling with %s and %s", "xoxb-1234-5678-abcdefghij", {"Authorization": "Bearer eyJhbGciOi.payload.sig"})
    log.info("socket mode token xapp-1-A01-123-abcdef, db postgresql+psycopg://pb:hunter2hunter2@db:5432/pb")
    try:
        raise RuntimeError("login failed with app-password-value-123")
    except RuntimeError:
        log.exception("token exchange failed, client_secret=shhh-very-secret")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    text = stream.getvalue()
    for leaked in ("xoxb-1234", "eyJhbGciOi", "xapp-1-A01", "hunter2hunter2", "app-password-value-123", "shhh-very-secret"):
        assert leaked not in text
    assert lines[0]["message"] == "calling with [redacted] and {'Authorization': 'Bearer [redacted]'}"
    assert "postgresql+psycopg://pb:[redacted]@db:5432/pb" in lines[1]["message"]
    assert lines[2]["level"] == "error" and "RuntimeError: login failed with [redacted]" in lines[2]["exception"]
    assert {"time", "level", "logger", "message"} <= set(lines[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"}


async def wait_healthy(url: str, proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            assert proc.returncode is None, "pulsebridge run exited during start-up"
            try:
                async with http.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never became healthy")


def run_env(database_url: str, fake_slack_url: str, config_path, **extra: str) -> dict[str, str]:
    return child_env({
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "PULSEBRIDGE_"))},
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-shutdown-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack_url + "/api/",
        "PULSEBRIDGE_CONFIG": str(config_path),
        "PULSEBRIDGE_METRICS_LISTEN": "127.0.0.1:0",
        **extra,
    })


async def test_sigterm_stops_taking_work_and_finishes_deliveries_in_flight(database_url, fake_slack, tmp_path):
    config = tmp_path / "org.yaml"
    config.write_text(ORG_YAML)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "run", "--host", "127.0.0.1", "--port", str(port),
        env=run_env(database_url, fake_slack.url, config), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_healthy(url, proc)
        fake_slack.delays["chat.postMessage"] = 1.0  # each delivery takes a second
        body = urlencode({
            "command": "/kudos", "text": "<@U0BOB|bob> for the quiet weekend on call", "user_id": "U0ANA", "user_name": "ana",
            "team_id": "T0001", "channel_id": "D0ANA", "trigger_id": f"1.2.{uuid.uuid4().hex}",
            "response_url": f"{fake_slack.url}/response/{uuid.uuid4().hex}",
        }).encode()
        async with aiohttp.ClientSession() as http:
            async with http.post(url + "/slack/events", data=body, headers=signed(body)) as resp:
                assert resp.status == 200
        await fake_slack.wait_for("chat.postMessage", 1)  # the first of two deliveries is under way

        proc.send_signal(signal.SIGTERM)

        refused = False
        deadline = time.monotonic() + 5
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline and not refused:
                try:
                    async with http.get(url + "/healthz"):
                        await asyncio.sleep(0.05)
                except aiohttp.ClientConnectionError:
                    refused = True
        assert refused, "the stopping process still accepted connections"
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    assert proc.returncode == 0
    assert len(fake_slack.calls_to("chat.postMessage")) == 2
    engine = make_engine(database_url)
    try:
        with session(engine) as s:
            rows = s.execute(select(OutboxMessage.key, OutboxMessage.status)).all()
    finally:
        engine.dispose()
    assert len(rows) == 2 and {status for _, status in rows} == {"sent"}

    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]  # stderr is a pipe: JSON lines
    messages = [line["message"] for line in lines]
    assert any(m.startswith("shutting down: finishing 1 handler") for m in messages), messages
    assert "shutdown complete" in messages
    # A serving process keeps its start-up heap out of the collector's walks (adapters/server.py).
    assert any(re.fullmatch(r"start-up heap frozen: [1-9]\d{4,} objects .*", m) for m in messages), messages
    assert "xoxb-shutdown-test-token" not in err.decode() and SIGNING_SECRET not in err.decode()
    assert "quiet weekend" not in err.decode()


async def test_teams_429_on_a_proactive_send_is_counted_and_left_failed_in_the_outbox(server):
    """The DM fails with 429: the outbox must not record it as sent, and no apology goes to the recipient."""
    before = await scrape(server.metrics_url)
    server.connector.send_failures["a:personal-29:bob"] = [429]  # the DM to Bob, in the 1:1 chat the bot creates

    await server.teams_send(server.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for pairing", mentions=[("29:bob", "Bob Stone")]))
    await server.connector.wait_for(2)  # the reply to Ana and the channel post; the DM was refused
    after = await scrape(server.metrics_url)

    assert value(after, "pulsebridge_outbound_rate_limited_total", platform="teams", method="send_activity") - value(
        before, "pulsebridge_outbound_rate_limited_total", platform="teams", method="send_activity"
    ) == 1
    with session(server.engine) as s:
        rows = dict(s.execute(select(OutboxMessage.destination, OutboxMessage.status)).all())
    assert rows["dm:29:bob"] == "failed"
    assert server.connector.sent_to("a:personal-29:bob") == []  # no apology posted in its place
    assert rows["channel:19:support@thread.tacv2"] == "sent"


async def test_metrics_are_not_on_the_public_port(server):
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/metrics") as resp:
            assert resp.status == 404
        async with http.get(server.metrics_url + "/metrics") as resp:
            assert resp.status == 200
    assert server.metrics_url.startswith("http://127.0.0.1:") and server.metrics_url != server.url


async def test_a_metrics_token_is_required_when_set_and_off_loopback(database_url, fake_slack, fake_connector):
    from bot.kernel.errors import ConfigError
    from bot.kernel.settings import load_settings

    for listen in ("0.0.0.0:9464", "[::]:9464", "10.1.2.3:9464"):
        with pytest.raises(ConfigError, match="PULSEBRIDGE_METRICS_TOKEN: required when PULSEBRIDGE_METRICS_LISTEN is not a loopback"):
            load_settings(_env_file=None, PULSEBRIDGE_METRICS_LISTEN=listen)
    assert load_settings(_env_file=None, PULSEBRIDGE_METRICS_LISTEN="off").PULSEBRIDGE_METRICS_LISTEN == "off"
    token = "metrics-token-0123456789abcdef"
    settings = make_settings(database_url, fake_slack.url, PULSEBRIDGE_METRICS_TOKEN=token)
    runner, srv = await start_server(settings, fake_slack, fake_connector)
    try:
        async with aiohttp.ClientSession() as http:
            for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
                async with http.get(srv.metrics_url + "/metrics", headers=header) as resp:
                    assert resp.status == 401
            async with http.get(srv.metrics_url + "/metrics", headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200 and "pulsebridge_http_requests_total" in await resp.text()
    finally:
        await runner.cleanup()
        srv.engine.dispose()
