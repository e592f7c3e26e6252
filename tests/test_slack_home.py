"""The Messages tab and the App Home tab on Slack, through signed events into the real endpoint.

A DM to the bot is answered (help; the first contact gets the welcome, once per person); bots,
edits and the bot's own messages are ignored and a retried event is answered once. Opening the
Home tab publishes the person's open pulses, kudos, team goals and, for leads, /teamhealth's own
report with its suppression rules.
"""

from __future__ import annotations

import json
import uuid

from tests.conftest import ORG_YAML, handled
from tests.recognition_support import custom_server, slack_texts
from tests.teamhealth_support import seed_kudos, user


def _event(event: dict, event_id: str | None = None) -> bytes:
    return json.dumps({
        "token": "x", "team_id": "T0001", "api_app_id": "A0PULSE", "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(), "event_time": 1700000000,
        "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}],
        "event": event,
    }).encode()


def _dm(user_id: str, text: str = "hi", **extra) -> dict:
    return {"type": "message", "channel": "D" + user_id[1:], "channel_type": "im", "user": user_id, "text": text,
            "ts": f"1700000{uuid.uuid4().int % 10**6}.000100", "event_ts": "1700000000.000100", **extra}


async def _send(server, body: bytes, **headers) -> int:
    status, _ = await server.post("/slack/events", body, {**server.slack_headers(body, content_type="application/json"), **headers})
    return status


def _dms_to(fake, user_id: str) -> list[str]:
    return [slack_texts(c) for c in fake.calls_to("chat.postMessage") if c.params["channel"] == user_id]


async def test_a_dm_gets_the_welcome_first_then_help_and_a_retry_is_answered_once(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        assert await _send(server, _event(_dm("U0BOB", "hello?"))) == 200
        await fake_slack.wait_for("chat.postMessage")
        await handled(server)
        (welcome,) = _dms_to(fake_slack, "U0BOB")
        assert "Three things you can do with me" in welcome and "/kudos" in welcome and "/win" in welcome and "/pulse" in welcome

        second = _event(_dm("U0BOB", "what can you do"), "Ev0SECOND")
        assert await _send(server, second) == 200
        await fake_slack.wait_for("chat.postMessage", 2)
        assert await _send(server, second, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}) == 200
        await handled(server)
        texts = _dms_to(fake_slack, "U0BOB")
        assert len(texts) == 2 and "Here is what I can do" in texts[1]


async def test_bots_edits_and_the_bots_own_messages_are_not_answered(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        ignored = [
            _dm("U0BOB", bot_id="B0OTHER"),
            _dm("U0BOB", subtype="message_changed", message={"text": "edited"}),
            _dm("U0BOB", subtype="message_deleted"),
            _dm("UBOT"),  # our own message in a DM
            {**_dm("U0BOB"), "channel_type": "channel", "channel": "C0SUPPORT"},  # not a DM
        ]
        for event in ignored:
            assert await _send(server, _event(event)) == 200
        assert await _send(server, _event(_dm("U0CARLA"))) == 200  # the one to answer, sent last
        await fake_slack.wait_for("chat.postMessage")
        await handled(server)
        assert [c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")] == ["U0CARLA"]


def _home_event(user_id: str) -> bytes:
    return _event({"type": "app_home_opened", "user": user_id, "channel": "D" + user_id[1:], "tab": "home", "event_ts": "1700000000.000200"})


async def test_the_home_tab_shows_pulses_kudos_goals_and_a_leads_team_health(database_url, fake_slack, fake_connector):
    yaml = ORG_YAML + "teamhealth:\n  goals:\n    - {key: k, title: More kudos, metric: kudos_given, target: 10, period: month, teams: [support]}\n"
    async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:
        ana = user(server.engine, "slack", "U0ANA", "Ana Lima", "ana@example.com")
        bob = user(server.engine, "slack", "U0BOB", "Bob Stone", "bob@example.com")
        seed_kudos(server.engine, bob, ana, server.core.clock())
        assert await _send(server, _home_event("U0ANA")) == 200
        (published,) = await fake_slack.wait_for("views.publish")
        await handled(server)
        assert published.params["user_id"] == "U0ANA" and published.params["view"]["type"] == "home"
        text = json.dumps(published.params["view"], ensure_ascii=False)
        assert "Your pulse questions" in text and "No open pulse questions" in text
        assert "Kudos received: 1" in text and "Kudos given: 0" in text
        assert "Goals of Customer Support" in text and "More kudos" in text
        assert "Team health of Customer Support (leads only)" in text

        # The lead sees exactly what /teamhealth shows them: the same report, the same suppression.
        await server.slack_command("/teamhealth", "support", user_id="U0ANA")
        (reply,) = await fake_slack.wait_for("response_url")
        health = published.params["view"]["blocks"]
        start = next(i for i, b in enumerate(health) if "Team health of Customer Support" in json.dumps(b)) + 1
        report = [b for b in reply.params["blocks"] if not (b["type"] == "context" and b["elements"][0]["text"].startswith("Part "))]
        assert health[start : start + len(report)] == report

        # The welcome goes out once, however often the tab is opened.
        assert await _send(server, _home_event("U0ANA")) == 200
        await fake_slack.wait_for("views.publish", 2)
        await handled(server)
        assert len(_dms_to(fake_slack, "U0ANA")) == 1


async def test_a_member_who_is_not_a_lead_sees_no_team_health(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        assert await _send(server, _home_event("U0BOB")) == 200
        (published,) = await fake_slack.wait_for("views.publish")
        await handled(server)
        text = json.dumps(published.params["view"], ensure_ascii=False)
        assert "Goals of Customer Support" in text and "Team health" not in text and "Engagement" not in text
