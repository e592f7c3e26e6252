"""POST /webhooks/feedback through real HTTP: signing, limits, each source format, idempotency, escaping."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import time

import pytest

from tests.feedback_support import (
    WEBHOOK_SECRET,
    customer_kudos,
    documented_signature,
    fb,  # noqa: F401 - fixture
    feedback_rows,
    fixture,
    generic,
    post_feedback,
    signed_headers,
)


def slack_posts(srv, channel: str) -> list:
    return [c for c in srv.slack.calls_to("chat.postMessage") if c.params["channel"] == channel]


def all_text(call) -> str:
    return call.params["text"] + "\n" + json.dumps(call.params["blocks"], ensure_ascii=False)


async def test_signed_generic_praise_is_stored_and_relayed_to_the_named_employee(fb):
    status, body = await post_feedback(fb, fixture("generic"))
    assert status == 201, body
    assert body["status"] == "stored" and body["relay"] == "relayed" and body["method"] == "name_in_text"

    await fb.slack.wait_for("chat.postMessage", 2)
    dm = slack_posts(fb, "U0CARLA")
    assert len(dm) == 1
    assert "Priya Natarajan (Globex)" in all_text(dm[0]) and "walked me through the migration" in all_text(dm[0])
    assert "5/5" in all_text(dm[0])
    channel = slack_posts(fb, "C0SUPPORT")
    assert len(channel) == 1 and "<@U0CARLA>" in all_text(channel[0])

    [row] = feedback_rows(fb.engine)
    assert (row.source, row.external_id, row.sentiment, row.status) == ("typeform", "resp-7f3a91", "positive", "relayed")
    assert row.raw == fixture("generic")  # the payload as received, for audit
    [kudos] = customer_kudos(fb.engine)
    assert kudos.feedback_id == row.id and kudos.user_id == row.routed_user_id and kudos.giver_label == "Priya Natarajan (Globex)"


async def test_redelivery_is_a_duplicate_and_sends_nothing_twice(fb):
    assert (await post_feedback(fb, fixture("generic")))[0] == 201
    await fb.slack.wait_for("chat.postMessage", 2)
    status, body = await post_feedback(fb, fixture("generic"))
    assert status == 200 and body["status"] == "duplicate"
    assert len(feedback_rows(fb.engine)) == 1 and len(customer_kudos(fb.engine)) == 1
    assert len(fb.slack.calls_to("chat.postMessage")) == 2


async def test_unsigned_forged_and_stale_requests_are_refused_and_nothing_is_stored(fb):
    body = json.dumps(fixture("generic")).encode()
    status, _ = await fb.post("/webhooks/feedback", body, {"Content-Type": "application/json"})
    assert status == 401
    status, _ = await fb.post("/webhooks/feedback", body, signed_headers(body, secret="not-the-secret"))
    assert status == 401
    tampered = signed_headers(body)
    status, _ = await fb.post("/webhooks/feedback", body.replace(b"Carla", b"Dan  "), tampered)
    assert status == 401
    status, _ = await fb.post("/webhooks/feedback", body, signed_headers(body, timestamp=int(time.time()) - 301))
    assert status == 401
    # The timestamp is signed: a captured signature does not work with a fresh timestamp.
    old = signed_headers(body, timestamp=int(time.time()) - 400)
    replay = dict(old, **{"X-Pulsebridge-Timestamp": str(int(time.time()))})
    status, text = await fb.post("/webhooks/feedback", body, replay)
    assert status == 401 and "field" not in text
    assert feedback_rows(fb.engine) == [] and fb.slack.calls_to("chat.postMessage") == []


async def test_the_readme_shell_example_signs_requests_the_server_accepts(fb):
    """The README's openssl one-liner, run as written: a third implementation of the format."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    body = json.dumps(generic("Carla fixed it in minutes!", id="readme-1"))
    ts = str(int(time.time()))
    script = """printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$FEEDBACK_WEBHOOK_SECRET" -hex | sed 's/^.* //'"""
    sig = subprocess.run(["sh", "-c", script], env={"ts": ts, "body": body, "FEEDBACK_WEBHOOK_SECRET": WEBHOOK_SECRET, "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert "sha256=" + sig == documented_signature(WEBHOOK_SECRET, ts, body.encode())
    headers = {"Content-Type": "application/json", "X-Pulsebridge-Timestamp": ts, "X-Pulsebridge-Signature": f"sha256={sig}"}
    status, text = await fb.post("/webhooks/feedback", body.encode(), headers)
    assert status == 201, text


@pytest.mark.parametrize(
    "signed_string",
    [
        lambda ts, body: body,  # no timestamp: replayable forever
        lambda ts, body: ts.encode() + body,  # no separator
        lambda ts, body: body + b"." + ts.encode(),  # wrong order
        lambda ts, body: ts.encode() + b":" + body,  # Slack's separator
    ],
    ids=["body-only", "no-separator", "body-first", "colon"],
)
async def test_signatures_over_any_other_string_are_refused(fb, signed_string):
    body = json.dumps(generic("Carla fixed it in minutes!")).encode()
    ts = str(int(time.time()))
    digest = hmac.new(WEBHOOK_SECRET.encode(), signed_string(ts, body), hashlib.sha256).hexdigest()
    for value in (f"sha256={digest}", digest):
        headers = {"Content-Type": "application/json", "X-Pulsebridge-Timestamp": ts, "X-Pulsebridge-Signature": value}
        status, _ = await fb.post("/webhooks/feedback", body, headers)
        assert status == 401
    # The documented string without its `sha256=` prefix is refused too.
    bare = documented_signature(WEBHOOK_SECRET, ts, body).removeprefix("sha256=")
    status, _ = await fb.post("/webhooks/feedback", body, {"Content-Type": "application/json", "X-Pulsebridge-Timestamp": ts, "X-Pulsebridge-Signature": bare})
    assert status == 401
    assert feedback_rows(fb.engine) == []


@pytest.mark.parametrize(
    "offset,accepted",
    [(-290, True), (290, True), (-310, False), (310, False), (3600, False), (10**9, False)],
    ids=["4m50s-old", "4m50s-ahead", "5m10s-old", "5m10s-ahead", "1h-ahead", "far-future"],
)
async def test_the_timestamp_must_be_within_five_minutes_either_way(fb, offset, accepted):
    """A future timestamp is as suspicious as an old one: it would let a captured request be
    replayed until that time comes."""
    status, body = await post_feedback(fb, generic("Carla fixed it in minutes!", id=f"t{offset}"), timestamp=int(time.time()) + offset)
    assert status == (201 if accepted else 401), body
    assert len(feedback_rows(fb.engine)) == (1 if accepted else 0)


async def test_oversize_body_is_413_and_malformed_bodies_are_400_naming_the_field(fb):
    huge = generic("x" * (257 * 1024))
    status, _ = await post_feedback(fb, huge)
    assert status == 413
    chunked = json.dumps(huge).encode()

    async def in_chunks():
        for i in range(0, len(chunked), 8192):
            yield chunked[i : i + 8192]

    status, _ = await fb.post("/webhooks/feedback", in_chunks(), signed_headers(chunked))
    assert status == 413  # no Content-Length: counted while reading
    near_limit = generic("Carla Diaz was great", id="big-1", padding="p" * (250 * 1024))
    status, body = await post_feedback(fb, near_limit)
    assert status == 201 and body["relay"] == "relayed"  # read whole, not just the first chunk
    assert feedback_rows(fb.engine)[0].raw["padding"] == near_limit["padding"]

    status, body = await post_feedback(fb, b"{not json")
    assert status == 400 and body["field"] == "body"
    cases = [
        ({k: v for k, v in generic("great").items() if k != "id"}, "id"),
        (generic("great", score=11, scale="nps10"), "score"),
        (generic("great", score=4, scale="stars"), "scale"),
        (generic("great", customer="Priya"), "customer"),
        (generic("", score=None), "score"),
        (generic("great", created_at="last tuesday"), "created_at"),
        ([1, 2, 3], "body"),
    ]
    for payload, field in cases:
        status, body = await post_feedback(fb, payload)
        assert (status, body.get("field")) == (400, field), (payload, body)
    broken = fixture("zendesk_trigger")
    broken["ticket"]["satisfaction"]["current_rating"] = "Offered"
    status, body = await post_feedback(fb, broken)
    assert (status, body["field"]) == (400, "ticket.satisfaction.current_rating")
    other_topic = fixture("intercom_rating")
    other_topic["topic"] = "conversation.admin.replied"
    status, body = await post_feedback(fb, other_topic)
    assert (status, body["field"]) == (400, "topic")
    assert len(feedback_rows(fb.engine)) == 1  # only near_limit


async def test_zendesk_trigger_payload_routes_by_agent_mapping(fb):
    status, body = await post_feedback(fb, fixture("zendesk_trigger"))
    assert status == 201 and body["method"] == "agent_mapping"
    [row] = feedback_rows(fb.engine)
    assert (row.source, row.external_id, row.score, row.scale) == ("zendesk", "ticket:48213", 1.0, "thumbs")
    assert (row.customer_name, row.customer_account, row.agent_id) == ("Marcus Feld", "Initech", "90001")
    dm = (await fb.slack.wait_for("chat.postMessage", 2))[0]
    assert dm.params["channel"] == "U0DAN" and "Super quick answer" in all_text(dm) and "👍" in all_text(dm)
    assert slack_posts(fb, "C0PLATFORM")


async def test_intercom_rating_routes_by_teammate_mapping(fb):
    status, body = await post_feedback(fb, fixture("intercom_rating"))
    assert status == 201 and body["method"] == "agent_mapping"
    [row] = feedback_rows(fb.engine)
    assert (row.external_id, row.score, row.scale, row.customer_name) == ("conversation:2147483647", 5.0, "csat5", "Jo Okafor")
    await fb.slack.wait_for("chat.postMessage", 2)
    assert slack_posts(fb, "U0ERIN") and slack_posts(fb, "C0PLATFORM")
    unrated_teammate = fixture("intercom_rating")
    unrated_teammate["data"]["item"].update(id="77", admin_assignee_id=814860)
    unrated_teammate["data"]["item"]["conversation_rating"]["teammate"] = None
    status, body = await post_feedback(fb, unrated_teammate)
    assert status == 201 and body["method"] == "agent_mapping"  # falls back to the assignee


async def test_delighted_nps_routes_to_account_owner(fb):
    status, body = await post_feedback(fb, fixture("delighted_nps"))
    assert status == 201 and body["method"] == "account_owner"
    [row] = feedback_rows(fb.engine)
    assert (row.external_id, row.score, row.scale, row.customer_account) == ("response:77231945", 10.0, "nps10", "Acme Corp")
    await fb.slack.wait_for("chat.postMessage", 2)
    assert "NPS 10/10" in all_text(slack_posts(fb, "U0ANA")[0])


async def test_negative_and_neutral_feedback_is_stored_but_never_relayed(fb):
    detractor = fixture("delighted_nps")
    detractor["event_data"].update(id="1", score=3, comment="Ana never called back.")
    passive = fixture("delighted_nps")
    passive["event_data"].update(id="2", score=8, comment="Fine.")
    bad = fixture("zendesk_trigger")
    bad["ticket"]["satisfaction"]["current_rating"] = "Bad, I'm unsatisfied"
    unhappy_text = generic("Carla was rude and the product is terrible.", id="t-1", score=None, scale=None)
    for payload in (detractor, passive, bad, unhappy_text):
        status, body = await post_feedback(fb, payload)
        assert status == 201 and body["relay"] == "not_kudos", body
    assert [r.sentiment for r in feedback_rows(fb.engine)] == ["negative", "neutral", "negative", "negative"]
    assert customer_kudos(fb.engine) == []
    assert fb.slack.calls_to("chat.postMessage") == []


async def test_text_only_praise_is_classified_by_polarity(fb):
    status, body = await post_feedback(fb, generic("Erin Park was absolutely wonderful, thank you!", id="t-2", score=None, scale=None))
    assert status == 201 and body["sentiment"] == "positive" and body["relay"] == "relayed"
    [row] = feedback_rows(fb.engine)
    assert row.polarity is not None and row.polarity > 0.3


async def test_customer_text_cannot_ping_mention_or_link(fb):
    nasty = "Carla Diaz <!channel> <@U0BOB> <https://evil.example|click here> *bold* & thanks!"
    payload = generic(nasty, id="x-1", customer={"name": "<!here> Mallory", "account": "<#C0GENERAL>"})
    status, body = await post_feedback(fb, payload)
    assert status == 201 and body["relay"] == "relayed"
    calls = await fb.slack.wait_for("chat.postMessage", 2)
    for call in calls:
        text = all_text(call)
        for live in ("<!channel>", "<@U0BOB>", "<https://evil", "<!here>", "<#C0GENERAL>"):
            assert live not in text, (live, text)
        assert "&lt;!channel&gt;" in text and "&lt;@U0BOB&gt;" in text
        assert all(t.get("verbatim") for b in call.params["blocks"] for t in [b.get("text") or {}] if t)


async def test_disabled_without_a_secret(database_url, fake_slack, fake_connector):
    from tests.feedback_support import start_feedback_server

    runner, srv = await start_feedback_server(database_url, fake_slack, fake_connector, FEEDBACK_WEBHOOK_SECRET=None)
    try:
        status, body = await post_feedback(srv, fixture("generic"))
        assert status == 503 and "FEEDBACK_WEBHOOK_SECRET" in body["error"]
        assert feedback_rows(srv.engine) == []
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_redelivery_sends_what_failed_the_first_time(fb):
    fb.slack.fail_next("chat.postMessage", 200, body={"ok": False, "error": "not_in_channel"})
    assert (await post_feedback(fb, fixture("generic")))[0] == 201
    await fb.slack.wait_for("chat.postMessage:rejected")
    await fb.slack.wait_for("chat.postMessage", 1)
    assert {c.params["channel"] for c in fb.slack.calls_to("chat.postMessage")} == {"C0SUPPORT"}  # the DM failed
    status, body = await post_feedback(fb, fixture("generic"))
    assert status == 200 and body["status"] == "duplicate"
    calls = await fb.slack.wait_for("chat.postMessage", 2)
    assert sorted(c.params["channel"] for c in calls) == ["C0SUPPORT", "U0CARLA"]
    assert len(customer_kudos(fb.engine)) == 1


async def test_concurrent_deliveries_of_the_same_feedback_store_it_once(fb):
    import asyncio

    results = await asyncio.gather(*(post_feedback(fb, fixture("intercom_rating")) for _ in range(4)))
    assert sorted(status for status, _ in results).count(201) == 1
    assert len(feedback_rows(fb.engine)) == 1 and len(customer_kudos(fb.engine)) == 1
    await fb.slack.wait_for("chat.postMessage", 2)
    assert len(fb.slack.calls_to("chat.postMessage")) == 2


async def test_format_can_be_forced_and_must_be_known(fb):
    status, body = await post_feedback(fb, fixture("generic"), query="?format=zendesk")
    assert (status, body["field"]) == (400, "ticket")
    status, body = await post_feedback(fb, fixture("generic"), query="?format=surveymonkey")
    assert (status, body["field"]) == (400, "format")
    status, body = await post_feedback(fb, fixture("delighted_nps"), query="?format=delighted")
    assert status == 201


async def test_anonymised_customers_are_shown_as_a_customer(database_url, fake_slack, fake_connector):
    from tests.feedback_support import FEEDBACK_ORG_YAML, start_feedback_server

    org = FEEDBACK_ORG_YAML.replace("  triage_channels:", "  anonymise_customers: true\n  triage_channels:")
    runner, srv = await start_feedback_server(database_url, fake_slack, fake_connector, org)
    try:
        assert (await post_feedback(srv, fixture("generic")))[0] == 201
        calls = await srv.slack.wait_for("chat.postMessage", 2)
        for call in calls:
            assert "Priya" not in all_text(call) and "Globex" not in all_text(call)
        assert "A customer said" in all_text(slack_posts(srv, "U0CARLA")[0])
        assert customer_kudos(srv.engine)[0].giver_label == "a customer"
        assert feedback_rows(srv.engine)[0].customer_name == "Priya Natarajan"  # kept for audit, not shown
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_score_only_praise_says_so_without_an_empty_quote(fb):
    status, body = await post_feedback(fb, generic("", id="s-1", score=10, scale="nps10", agent={"email": "erin@example.com"}))
    assert status == 201 and body["relay"] == "relayed"
    await fb.slack.wait_for("chat.postMessage", 2)
    dm = slack_posts(fb, "U0ERIN")[0]
    assert "rated your help highly" in all_text(dm) and "NPS 10/10" in all_text(dm)
    assert len(dm.params["blocks"]) == 2  # no quote block
