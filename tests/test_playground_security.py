"""The playground has no login, so it answers only this machine's browser: JSON-only POSTs (no
cross-site form or text/plain CSRF), a Host check (no DNS rebinding), and a webhook URL taken
from our own socket, never from the Host header. `pulsebridge demo` refuses a public --host
unless told the operator means it."""

from __future__ import annotations

import subprocess
import sys

import aiohttp
from aiohttp import web

from adapters.server import CORE, build_app
from bot.demo import seed as demo
from tests.fakes.bot_connector import FakeBotConnector
from tests.test_playground import PULSE_KEY, WEBHOOK_SECRET, counts, playground, post  # noqa: F401 - fixture

COMMAND = {"as": "ana", "text": "/kudos @bob for the csrf fix", "client_id": "csrf-1"}


async def test_cross_site_content_types_are_refused_and_change_nothing(playground):  # noqa: F811
    before = counts(playground.core)
    import json

    body = json.dumps(COMMAND)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""):
        for path in ("/playground/api/command", "/playground/api/sample-feedback", "/playground/api/tick", "/playground/api/form"):
            async with playground.post(path, data=body, headers={"Content-Type": content_type} if content_type else {}) as resp:
                assert resp.status == 415, (path, content_type)
    assert counts(playground.core) == before
    status, _ = await post(playground, "/playground/api/command", COMMAND)
    assert status == 200 and counts(playground.core)["Kudos"] == before["Kudos"] + 1


async def test_a_rebinding_host_header_is_refused_and_loopback_names_work(playground):  # noqa: F811
    port = str(playground._base_url.port)
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", "", "[::2]:1", "10.0.0.1"):
        for method, path in (("GET", "/playground"), ("GET", "/playground/api/state?as=ana"), ("POST", "/playground/api/command")):
            async with playground.request(method, path, json=COMMAND, headers={"Host": host}) as resp:
                assert resp.status == 403, (host, path)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "127.0.0.1"):
        async with playground.get("/playground/api/state?as=ana", headers={"Host": host}) as resp:
            assert resp.status == 200, host
    async with playground.get("/healthz", headers={"Host": "evil.example"}) as resp:
        assert resp.status == 200  # only the playground is guarded; probes keep working


async def test_sample_feedback_posts_to_our_own_socket_whatever_the_host_header_says(playground):  # noqa: F811
    """Host: localhost:<attacker's port> is a loopback name, so it passes the Host check; the webhook
    call must still go to this server, not to the port the header names."""
    attacker = FakeBotConnector()
    await attacker.start()
    try:
        attacker_port = attacker.url.rsplit(":", 1)[1].strip("/")
        before = counts(playground.core)
        async with playground.post("/playground/api/sample-feedback", json={"as": "carla"}, headers={"Host": f"localhost:{attacker_port}"}) as resp:
            answer = await resp.json()
            assert resp.status == 200, answer
        assert attacker.requests == []
        assert counts(playground.core)["Feedback"] == before["Feedback"] + 1
    finally:
        await attacker.stop()


async def test_an_operator_named_host_is_accepted(database_url, fake_slack):
    from tests.conftest import make_settings

    settings = make_settings(database_url, fake_slack.url, FEEDBACK_WEBHOOK_SECRET=WEBHOOK_SECRET, PULSEBRIDGE_SECRET_KEY=PULSE_KEY)
    app = build_app(settings, org=demo.demo_org(), playground=True, bind_host="127.0.0.1", playground_hosts=("demo.internal",))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/playground", headers={"Host": "demo.internal:8000"}) as resp:
                assert resp.status == 200
            async with http.get(url + "/playground", headers={"Host": "other.internal:8000"}) as resp:
                assert resp.status == 403
    finally:
        await runner.cleanup()
        app[CORE].engine.dispose()


def test_demo_refuses_a_public_host_without_the_flag(tmp_path):
    for host in ("0.0.0.0", "192.0.2.10", "::"):
        result = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "demo", "--host", host, "--database-url", f"sqlite:///{tmp_path}/d.db"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert "WARNING" in result.stderr and "anyone who can reach it can act as any demo person" in result.stderr
        assert "pass --i-know-this-is-public" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "d.db").exists()  # refused before anything was created
