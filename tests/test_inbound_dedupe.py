"""A retried Slack request or Teams activity has exactly one effect, even when the copies overlap.

Slack retries a request it thinks timed out (`X-Slack-Retry-Num`), and a Teams channel redelivers
an activity with the same id; both may arrive while the first copy is still being handled. Each
test sends the copies at the same time and asserts on what the fakes recorded (every DM, channel
post and reply), after waiting for the bot to finish all of them — an observable event, not a sleep.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from sqlalchemy import func, select

from storage.kernel.db import session
from storage.recognition.tables import Win
from storage.recognition.tables import Kudos
from tests.recognition_support import NOW, win_state


async def handled(srv, timeout: float = 15.0) -> None:
    """Wait until the core has no handler in flight (each copy's reply and follow-ups are done).

    Handlers enter the core's in-flight tracker before Slack's ack or Teams' 201 is answered, so
    once every request has its HTTP response this is the moment nothing more will be sent for them.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while srv.core.inflight.count:
        if loop.time() > deadline:
            raise AssertionError(f"{srv.core.inflight.count} handler(s) still running after {timeout} s")
        await asyncio.sleep(0.02)


def count(engine, table) -> int:
    with session(engine) as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


async def test_overlapping_retries_of_a_slack_command_give_one_kudos_and_one_set_of_messages(server):
    server.slack.delays["users.info"] = 0.2  # the first copy is mid-flight when the retries land
    fields = server.slash_body("/kudos", "<@U0BOB|bob> for the quick turnaround")
    body = urlencode(fields).encode()

    async def deliver(retry: str | None):
        headers = server.slack_headers(body, content_type="application/x-www-form-urlencoded")
        if retry:
            headers.update({"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"})
        return (await server.post("/slack/events", body, headers))[0]

    assert await asyncio.gather(deliver(None), deliver("1"), deliver("2")) == [200, 200, 200]
    await server.slack.wait_for("chat.postMessage", 2)
    await handled(server)
    assert count(server.engine, Kudos) == 1
    assert sorted(c.params["channel"] for c in server.slack.calls_to("chat.postMessage")) == ["C0SUPPORT", "U0BOB"]
    # Each copy got an answer on its response_url, and none of them claims a second kudos.
    replies = server.slack.calls_to("response_url")
    assert len(replies) == 1, [r.params.get("text") for r in replies]
    assert all("error" not in r.params.get("text", "").lower() for r in replies)


async def test_overlapping_retries_of_a_slack_form_give_one_win_and_one_post_per_channel(server):
    server.core.clock = lambda: NOW
    server.slack.delays["users.info"] = 0.2
    payload = server.view_submission("win.record", win_state())
    statuses = await asyncio.gather(*(server.slack_interaction(payload) for _ in range(3)))
    assert [status for status, _ in statuses] == [200, 200, 200]
    await server.slack.wait_for("chat.postMessage", 5)
    await handled(server)
    assert count(server.engine, Win) == 1
    channels = sorted(c.params["channel"] for c in server.slack.calls_to("chat.postMessage"))
    assert channels == ["C0PLATFORM", "C0SUPPORT", "U0ANA", "U0BOB", "U0DAN"], [(c.params["channel"], c.params.get("text", "")[:60]) for c in server.slack.calls_to("chat.postMessage")]


async def test_overlapping_redeliveries_of_a_teams_activity_give_one_kudos_and_one_set_of_messages(server):
    activity = server.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for the demo", mentions=[("29:bob", "Bob Stone")])
    statuses = await asyncio.gather(*(server.teams_send(activity) for _ in range(3)))
    assert all(status in (200, 201) for status, _ in statuses)
    await handled(server)
    assert count(server.engine, Kudos) == 1
    by_conversation: dict[str, int] = {}
    for sent in server.connector.sent:
        by_conversation[sent.conversation_id] = by_conversation.get(sent.conversation_id, 0) + 1
    assert by_conversation.get("a:personal-29:bob") == 1
    assert by_conversation.get("19:support@thread.tacv2") == 1


async def test_a_teams_activity_redelivered_after_it_was_handled_sends_nothing_new(server):
    activity = server.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for the demo", mentions=[("29:bob", "Bob Stone")])
    await server.teams_send(activity)
    await handled(server)
    first = [(s.conversation_id, s.activity.get("text")) for s in server.connector.sent if s.conversation_id != activity["conversation"]["id"]]
    await server.teams_send(activity)
    await handled(server)
    again = [(s.conversation_id, s.activity.get("text")) for s in server.connector.sent if s.conversation_id != activity["conversation"]["id"]]
    assert again == first and count(server.engine, Kudos) == 1
