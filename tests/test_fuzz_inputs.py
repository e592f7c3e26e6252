"""Random bodies and headers against /slack/events and /webhooks/feedback: never a 5xx.

Hypothesis drives the real server (a loopback port, fake Slack behind it) from a plain thread, so
its examples are ordinary blocking requests. Bounded: MAX_EXAMPLES per endpoint, each request with
a REQUEST_TIMEOUT, no example database written; half the examples carry a valid signature so
they get past the signature check into the parsers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.webhooks import sign
from storage.kernel.migrate import upgrade
from tests.conftest import SIGNING_SECRET, make_settings, start_server
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackAPI
from tests.feedback_support import FEEDBACK_ORG_YAML, WEBHOOK_SECRET

MAX_EXAMPLES = 120
REQUEST_TIMEOUT = 10.0
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The real app on a loopback port, run by an event loop in a thread of its own."""
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    upgrade(url)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start():
        slack, connector = FakeSlackAPI(), FakeBotConnector()
        await slack.start()
        await connector.start()
        slack.add_user("U0ANA", "Ana Lima", "ana@example.com")
        runner, srv = await start_server(make_settings(url, slack.url, FEEDBACK_WEBHOOK_SECRET=WEBHOOK_SECRET), slack, connector, FEEDBACK_ORG_YAML)
        return slack, connector, runner, srv

    slack, connector, runner, srv = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    yield srv
    async def stop():
        await runner.cleanup()
        await slack.stop()
        await connector.stop()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
    srv.engine.dispose()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def post(srv, path: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(srv.url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


# Header values a client can put on the wire: latin-1 text without line breaks.
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=60)
timestamps = st.one_of(
    st.just(""), header_text, st.integers(-10**20, 10**20).map(str), st.text("0123456789", min_size=1, max_size=5000),
    st.just("FRESH"),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
KEYS = ["source", "id", "customer", "score", "scale", "text", "agent", "created_at", "ticket", "satisfaction_rating",
        "type", "topic", "data", "event_type", "event_data"]
feedback_like = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)
slack_payload = st.fixed_dictionaries(
    {"type": st.sampled_from(["block_actions", "view_submission", "shortcut", "message_action", "view_closed", "x"])},
    optional={"user": json_values, "actions": st.lists(st.dictionaries(st.sampled_from(["action_id", "value", "type", "selected_user"]), json_values), max_size=2),
              "view": json_values, "container": json_values, "channel": json_values, "team": json_values, "trigger_id": json_values},
)


def raw_json(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


slack_bodies = st.one_of(
    st.binary(max_size=2000),
    slack_payload.map(lambda p: urlencode({"payload": json.dumps(p, allow_nan=True)}).encode()),
    # No response_url / response_urls anywhere: a signed example must never make the bot call a fuzzed URL.
    st.dictionaries(st.sampled_from(["command", "text", "user_id", "team_id", "channel_id", "trigger_id", "user_name"]), st.text(max_size=40), max_size=8)
    .map(lambda d: urlencode(d).encode()),
    json_values.map(raw_json),
    st.sampled_from([b"[" * 150_000, b'{"type": "event_callback", "event": ' + b"[" * 100_000]),
)


@FUZZ
@given(body=slack_bodies, timestamp=timestamps, content_type=st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain", ""]), signed=st.booleans(), signature=header_text)
def test_slack_events_never_answers_5xx(live, body, timestamp, content_type, signed, signature):
    ts = str(int(time.time())) if timestamp == "FRESH" or signed else timestamp
    if signed:
        signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    if content_type:
        headers["Content-Type"] = content_type
    status = post(live, "/slack/events", body, headers)
    assert status < 500, (status, body[:200], headers)


webhook_bodies = st.one_of(
    st.binary(max_size=2000),
    json_values.map(raw_json),
    feedback_like.map(raw_json),
    st.sampled_from([b"[" * 200_000, b'{"id": "x", "score": ' + b"9" * 400 + b"}", b'{"id": "x", "score": ' + b"9" * 5000 + b"}"]),
)


@FUZZ
@given(body=webhook_bodies, fmt=st.sampled_from(["", "?format=generic", "?format=zendesk", "?format=intercom", "?format=delighted", "?format=%00"]),
       timestamp=timestamps, signed=st.booleans(), signature=header_text)
def test_feedback_webhook_never_answers_5xx(live, body, fmt, timestamp, signed, signature):
    ts = str(int(time.time())) if timestamp == "FRESH" or signed else timestamp
    if signed:
        signature = sign(WEBHOOK_SECRET, ts, body)
    headers = {"Content-Type": "application/json", "X-Pulsebridge-Timestamp": ts, "X-Pulsebridge-Signature": signature}
    status = post(live, "/webhooks/feedback" + fmt, body, headers)
    assert status < 500, (status, body[:200], headers)
