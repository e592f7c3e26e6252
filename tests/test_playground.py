"""The demo playground: a third adapter driven over its own HTTP API, rendering the neutral messages."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from adapters.server import CORE, build_app
from bot import demo
from storage.db import session
from storage.tables import Kudos, User
from tests.conftest import make_settings


@pytest.fixture
async def playground(database_url, fake_slack):
    app = build_app(make_settings(database_url, fake_slack.url), org=demo.demo_org(), playground=True)
    demo.seed(app[CORE])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    async with aiohttp.ClientSession(base_url=url) as http:
        http.core = app[CORE]
        yield http
    await runner.cleanup()
    app[CORE].engine.dispose()


async def post(http, path, payload):
    async with http.post(path, json=payload) as resp:
        return resp.status, await resp.json(content_type=None)


async def state(http, who):
    async with http.get("/playground/api/state", params={"as": who}) as resp:
        assert resp.status == 200
        return await resp.json()


def conversation(data, conv_id):
    return next(c for c in data["conversations"] if c["id"] == conv_id)


async def test_seeding_is_idempotent(playground):
    core = playground.core
    with session(core.engine) as s:
        before = (s.execute(select(func.count()).select_from(User)).scalar_one(), s.execute(select(func.count()).select_from(Kudos)).scalar_one())
    demo.seed(core)
    with session(core.engine) as s:
        after = (s.execute(select(func.count()).select_from(User)).scalar_one(), s.execute(select(func.count()).select_from(Kudos)).scalar_one())
    assert before == after and before[0] == len(demo.PEOPLE) and before[1] > 10


async def test_page_is_served(playground):
    async with playground.get("/playground") as resp:
        assert resp.status == 200 and "pulsebridge playground" in await resp.text()


async def test_kudos_in_the_playground_reaches_dm_and_team_channel_escaped(playground):
    status, _ = await post(playground, "/playground/api/command", {"as": "ana", "text": "/kudos @bob for <script>alert(1)</script> & more #craft", "client_id": "c-1"})
    assert status == 200
    # A double submit with the same client id is one kudos.
    await post(playground, "/playground/api/command", {"as": "ana", "text": "/kudos @bob for <script>alert(1)</script> & more #craft", "client_id": "c-1"})
    bob = await state(playground, "bob")
    dm = conversation(bob, "dm:bob")["posts"]
    assert len(dm) == 1 and "gave you kudos" in dm[0]["html"]
    assert "<script>" not in dm[0]["html"] and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in dm[0]["html"]
    channel = conversation(bob, "team:support")["posts"]
    assert len(channel) == 1 and "recognised" in channel[0]["html"]
    ana = await state(playground, "ana")
    mine = conversation(ana, "dm:ana")["posts"]
    assert any(p["ephemeral"] and "Kudos sent to" in p["html"] for p in mine)
    # Ephemeral answers are only visible to the person who typed the command.
    assert not any("Kudos sent to" in p["html"] for p in conversation(bob, "dm:bob")["posts"])


async def test_bad_playground_input_is_a_clear_error(playground):
    assert (await post(playground, "/playground/api/command", {"as": "nobody", "text": "/kudos @bob for x"}))[0] == 400
    assert (await post(playground, "/playground/api/command", {"as": "ana", "text": "   "}))[0] == 400
    assert (await post(playground, "/playground/api/action", {"as": "ana", "post": 99999, "action_id": "x"}))[0] == 400
    assert (await post(playground, "/playground/api/form", {"as": "ana", "post": "1"}))[0] == 400
    async with playground.post("/playground/api/command", data=b"not json", headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
    status, _ = await post(playground, "/playground/api/command", {"as": "ana", "text": "/kudos @ghost for haunting", "client_id": "c-2"})
    assert status == 200
    ana = await state(playground, "ana")
    assert any("couldn&#39;t find @ghost" in p["html"] or "couldn't find @ghost" in p["html"] for p in conversation(ana, "dm:ana")["posts"])
