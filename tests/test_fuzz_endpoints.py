"""Bounded fuzzing of the inbound HTTP surfaces with hypothesis: random bodies and headers never get a 500.

Each run is bounded in count (max_examples) and per-example time (deadline). Hypothesis drives a
blocking HTTP client from a worker thread while the real server keeps serving on the test's loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings, strategies as st

from tests.conftest import make_settings, start_server
from tests.test_teams_auth import APP_ID, TENANT, FakeCredentials, openid  # noqa: F401 - fixture
from tests.fakes.openid import ISSUER

BOUNDED = settings(
    max_examples=200,
    deadline=timedelta(seconds=10),  # generous: the machine is shared; a hang still fails
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    derandomize=False,
    database=None,
)

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=25)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


def b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def activity_bodies(valid: dict) -> st.SearchStrategy[bytes]:
    keys = sorted(set(valid) | {"value", "replyToId", "channelData", "entities", "membersAdded", "action", "name"})
    mutated = st.builds(
        lambda changes, kind: {**valid, **changes, **({"type": kind} if kind else {})},
        st.dictionaries(st.sampled_from(keys), json_values, max_size=4),
        st.none() | st.sampled_from(["message", "invoke", "conversationUpdate", "messageReaction", "installationUpdate", "event", "typing"]),
    )
    as_bytes = mutated.map(lambda v: json.dumps(v).encode())
    return st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()), as_bytes, as_bytes, as_bytes)


authorizations = st.one_of(
    st.none(),
    header_text,
    st.builds(lambda h, p: f"Bearer {b64(h)}.{b64(p)}.", json_values, json_values),
    st.builds(lambda h, p, s: f"Bearer {b64(h)}.{b64(p)}.{s}", st.fixed_dictionaries({"alg": st.sampled_from(["RS256", "none", "HS256", "ES256"])},
              optional={"kid": st.text(max_size=10)}), json_values, header_text),
)
# Mostly JSON, so most examples get past the content-type check and reach the parsers.
content_types = st.sampled_from(["application/json"] * 8 + ["application/json; charset=utf-8", "text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data"]) | header_text
content_types = st.one_of(content_types, st.just("application/json"), st.just("application/json"))


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


async def fuzz_teams(srv, caplog, *, examples: int) -> list[int]:
    valid = srv.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for fuzzing", mentions=[("29:bob", "Bob Stone")])
    seen: list[int] = []

    @settings(BOUNDED, max_examples=examples)
    @given(body=activity_bodies(valid), content_type=content_types, authorization=authorizations)
    @example(body=json.dumps(valid).encode(), content_type="application/json", authorization=None)  # the happy path
    @example(body=b"{}", content_type="application/json", authorization=None)
    def one(body: bytes, content_type: str, authorization: str | None) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        if authorization is not None:
            headers["Authorization"] = authorization
        status, text = post(srv.url + "/api/messages", body, headers)
        seen.append(status)
        # 501 is botbuilder's InvokeResponse for an invoke activity the bot does not implement, not a crash.
        assert (status < 500 or status == 501) and "Traceback" not in text, (status, body[:200], headers)

    caplog.set_level(logging.WARNING)
    await asyncio.to_thread(one)
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert crashes == [], [r.getMessage() for r in crashes][:5]
    return seen


async def test_fuzz_teams_local_mode_never_500s(server, caplog):
    seen = await fuzz_teams(server, caplog, examples=200)
    assert len(seen) >= 100 and any(s in (200, 201) for s in seen) and any(s == 400 for s in seen)


async def test_fuzz_teams_signed_mode_never_500s_and_never_runs_a_turn(database_url, fake_slack, fake_connector, openid, caplog):  # noqa: F811
    settings_ = make_settings(
        database_url, fake_slack.url, MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="app-password-for-tests",
        PULSEBRIDGE_TEAMS_TENANTS=TENANT, MICROSOFT_OPENID_METADATA_URL=openid.metadata_url, MICROSOFT_TOKEN_ISSUER=ISSUER,
    )
    runner, srv = await start_server(settings_, fake_slack, fake_connector, teams_credentials=FakeCredentials(APP_ID, "x"))
    try:
        seen = await fuzz_teams(srv, caplog, examples=150)
        assert not any(s in (200, 201) for s in seen)
        assert fake_connector.requests == []
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_fuzz_playground_api_never_500s(database_url, fake_slack, caplog):
    from aiohttp import web

    from adapters.server import CORE, build_app
    from bot.demo import seed as demo
    from tests.test_playground import PULSE_KEY, WEBHOOK_SECRET

    app = build_app(
        make_settings(database_url, fake_slack.url, FEEDBACK_WEBHOOK_SECRET=WEBHOOK_SECRET, PULSEBRIDGE_SECRET_KEY=PULSE_KEY),
        org=demo.demo_org(), playground=True, bind_host="127.0.0.1",
    )
    demo.seed(app[CORE])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    people = ["ana", "bob", "carla", "nobody"]
    fields = st.fixed_dictionaries(
        {}, optional={"as": st.sampled_from(people) | json_values, "text": st.sampled_from(["/kudos @bob for x", "/win", "/pulse results", "/teamhealth"]) | json_values,
                      "conversation": json_values, "post": st.integers(-2, 50) | json_values, "action_id": json_values, "value": json_values,
                      "values": json_values, "job_id": json_values, "client_id": json_values},
    )
    as_bytes = fields.map(lambda v: json.dumps(v).encode())
    bodies = st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()), as_bytes, as_bytes)
    paths = st.sampled_from(["/playground/api/command", "/playground/api/action", "/playground/api/form", "/playground/api/tick", "/playground/api/sample-feedback"])
    hosts = st.sampled_from([None] * 6 + ["evil.example", "localhost"]) | header_text
    hosts = st.one_of(hosts, st.none(), st.none())
    seen: list[int] = []

    @BOUNDED
    @given(path=paths, body=bodies, content_type=content_types, host=hosts)
    @example(path="/playground/api/command", body=json.dumps({"as": "ana", "text": "/kudos @bob for x"}).encode(), content_type="application/json", host=None)
    @example(path="/playground/api/command", body=b"{}", content_type="text/plain", host=None)
    @example(path="/playground/api/command", body=b"{}", content_type="application/json", host="evil.example")
    def one(path: str, body: bytes, content_type: str, host: str | None) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        if host is not None:
            headers["Host"] = host
        status, text = post(base + path, body, headers)
        seen.append(status)
        assert status < 500 and "Traceback" not in text, (status, path, body[:200], headers)

    caplog.set_level(logging.WARNING)
    try:
        await asyncio.to_thread(one)
    finally:
        await runner.cleanup()
        app[CORE].engine.dispose()
    assert any(s == 200 for s in seen) and any(s == 415 for s in seen) and any(s == 403 for s in seen)
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert crashes == [], [r.getMessage() for r in crashes][:5]
