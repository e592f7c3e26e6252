"""Recognition rules through real HTTP: allowance, pair limit, private kudos, values, stats, leaderboard, the form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema
from sqlalchemy import select

from storage.kernel.db import session
from storage.recognition.tables import KudosContext
from storage.directory.tables import User
from storage.kernel.tables import InboundDelivery
from storage.recognition.tables import Kudos, KudosRecipient
from tests.conftest import teams_card_schema
from tests.recognition_support import NOW, card_text, count, custom_server, settle, slack_texts, static, text_input, users, with_recognition


async def kudos(server, text: str, user_id: str = "U0ANA") -> str:
    """Send /kudos and return the private answer the giver saw."""
    before = len(server.slack.calls_to("response_url"))
    await server.slack_command("/kudos", text, user_id=user_id)
    return slack_texts((await server.slack.wait_for("response_url", before + 1))[before])


async def test_allowance_per_day_counts_recipients_and_resets_the_next_day(database_url, fake_slack, fake_connector):
    yaml = with_recognition("allowance: 3")
    async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:
        assert "Kudos sent to" in await kudos(server, "<@U0BOB|bob> <@U0CARLA|carla> for the release notes")
        answer = await kudos(server, "<@U0DAN|dan> <@U0ERIN|erin> for the on-call handover")
        assert "allowance is 3 people per day and you have used 2 today; you can recognise 1 more today" in answer
        assert "Nothing was sent" in answer
        assert count(server.engine, Kudos) == 1 and count(server.engine, KudosRecipient) == 2
        assert count(server.engine, InboundDelivery) == 1

        assert "Kudos sent to" in await kudos(server, "<@U0DAN|dan> for the on-call handover")
        answer = await kudos(server, "<@U0ERIN|erin> for the dashboards")
        assert "you can give more tomorrow" in answer
        assert count(server.engine, Kudos) == 2

        server.core.clock = lambda: NOW + timedelta(days=1)
        assert "Kudos sent to" in await kudos(server, "<@U0ERIN|erin> for the dashboards")
        assert count(server.engine, Kudos) == 3


async def test_weekly_allowance(database_url, fake_slack, fake_connector):
    yaml = with_recognition("allowance: 2\nallowance_period: week")
    async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:
        server.core.clock = lambda: NOW - timedelta(days=3)  # Tuesday of the same week
        assert "Kudos sent to" in await kudos(server, "<@U0BOB|bob> <@U0CARLA|carla> for the release")
        server.core.clock = lambda: NOW  # Friday
        assert "allowance is 2 people per week" in await kudos(server, "<@U0DAN|dan> for the handover")
        server.core.clock = lambda: NOW + timedelta(days=3)  # next Monday
        assert "Kudos sent to" in await kudos(server, "<@U0DAN|dan> for the handover")


async def test_same_pair_is_limited_per_day_but_the_other_direction_is_not(server):
    server.core.clock = lambda: NOW
    assert "Kudos sent to" in await kudos(server, "<@U0BOB|bob> for the migration")
    answer = await kudos(server, "<@U0BOB|bob> for the other migration")
    assert "You already gave kudos to Bob Stone today" in answer and "once a day" in answer
    answer = await kudos(server, "<@U0CARLA|carla> <@U0BOB|bob> for pairing")
    assert "Bob Stone" in answer and count(server.engine, Kudos) == 1  # the whole kudos is refused, Carla's part too
    assert "Kudos sent to" in await kudos(server, "<@U0ANA|ana> for reviewing", user_id="U0BOB")
    server.core.clock = lambda: NOW + timedelta(days=1)
    assert "Kudos sent to" in await kudos(server, "<@U0BOB|bob> for the other migration")
    assert count(server.engine, Kudos) == 3


async def test_private_kudos_reach_only_the_recipient(server):
    server.core.clock = lambda: NOW
    answer = await kudos(server, "<@U0BOB|bob> --private for quietly fixing my broken deploy #craft")
    assert "Private kudos sent to <@U0BOB>" in answer and "no channel post" in answer
    await server.slack.wait_for("chat.postMessage")
    await settle(server)
    posts = server.slack.calls_to("chat.postMessage")
    assert [p.params["channel"] for p in posts] == ["U0BOB"]
    assert "gave you private kudos" in slack_texts(posts[0]) and "quietly fixing my broken deploy" in slack_texts(posts[0])
    with session(server.engine) as s:
        stored = s.execute(select(Kudos)).scalar_one()
        assert stored.reason == "quietly fixing my broken deploy"
        assert s.get(KudosContext, stored.id).private is True


async def test_private_kudos_can_be_turned_off(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, with_recognition("private_kudos: false")) as server:
        assert "Private kudos are turned off" in await kudos(server, "<@U0BOB|bob> for the fix --private")
        assert count(server.engine, Kudos) == 0
        await server.slack_command("/kudos", "")
        view = (await server.slack.wait_for_form("kudos.give"))[0]
        assert "visibility" not in [b.get("block_id") for b in view["blocks"]]


async def test_required_values(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, with_recognition("values_required: true")) as server:
        answer = await kudos(server, "<@U0BOB|bob> for the fix")
        assert "tag the kudos with at least one value: #customer-first, #ownership, #craft" in answer
        assert count(server.engine, Kudos) == 0
        assert "Kudos sent to" in await kudos(server, "<@U0BOB|bob> for the fix #ownership")


async def test_stats_show_own_counts_and_leaderboard_is_off_by_default(server):
    server.core.clock = lambda: NOW
    await kudos(server, "<@U0BOB|bob> for the migration #craft")
    await kudos(server, "<@U0BOB|bob> --private for the hotfix #ownership", user_id="U0CARLA")
    await kudos(server, "<@U0CARLA|carla> for the review #craft", user_id="U0BOB")
    stats = await kudos(server, "stats", user_id="U0BOB")
    assert "Kudos received: 2 · Kudos given: 1" in stats
    assert "#craft ×1, #ownership ×1" in stats  # received values, the private one included: it is Bob's own
    assert "only you can see this" in stats
    assert "leaderboard is turned off" in await kudos(server, "leaderboard")


async def test_leaderboard_when_enabled_counts_public_kudos_only(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, with_recognition("leaderboard: true")) as server:
        await kudos(server, "<@U0BOB|bob> for the migration")
        await kudos(server, "<@U0BOB|bob> for the docs", user_id="U0DAN")
        await kudos(server, "<@U0CARLA|carla> --private for the secret thing", user_id="U0DAN")
        board = await kudos(server, "leaderboard", user_id="U0ERIN")
        assert "1. <@U0BOB> — 2 kudos" in board and "U0CARLA" not in board


async def test_kudos_without_arguments_opens_a_form_and_the_form_gives_kudos(server):
    server.core.clock = lambda: NOW
    await server.slack_command("/kudos", "", user_id="U0DAN")
    view = (await server.slack.wait_for_form("kudos.give"))[0]
    assert view["callback_id"] == "kudos.give"
    assert [b.get("block_id") for b in view["blocks"] if b["type"] == "input"] == ["recipients", "reason", "value", "visibility"]

    state = {"recipients": users("U0DAN"), "reason": text_input("x"), "value": static(None), "visibility": static("public")}
    status, body = await server.slack_interaction(server.view_submission("kudos.give", state, user_id="U0DAN"))
    assert '"recipients":' in body.replace(" ", "") and "yourself" in body
    state = {"recipients": users("U0ERIN"), "reason": text_input("r" * 1501), "value": static(None), "visibility": static("public")}
    status, body = await server.slack_interaction(server.view_submission("kudos.give", state, user_id="U0DAN"))
    assert '"reason":' in body.replace(" ", "") and "under 1,500" in body
    state = {"recipients": users("U0ERIN"), "reason": text_input("x"), "value": static(None), "win": static("W-777"), "visibility": static("public")}
    status, body = await server.slack_interaction(server.view_submission("kudos.give", state, user_id="U0DAN"))
    assert '"win":' in body.replace(" ", "") and "There is no customer win W-777" in body
    assert count(server.engine, Kudos) == 0 and count(server.engine, InboundDelivery) == 0

    state = {"recipients": users("U0ERIN"), "reason": text_input("the Grafana boards"), "value": static("craft"), "visibility": static("private")}
    status, body = await server.slack_interaction(server.view_submission("kudos.give", state, user_id="U0DAN"))
    assert status == 200 and "errors" not in body
    await server.slack.wait_for("chat.postMessage", 2)
    await settle(server)
    channels = sorted(p.params["channel"] for p in server.slack.calls_to("chat.postMessage"))
    assert channels == ["U0DAN", "U0ERIN"]  # confirmation + the recipient; private, so no channel post
    with session(server.engine) as s:
        stored = s.execute(select(Kudos)).scalar_one()
        assert (stored.reason, s.get(KudosContext, stored.id).private) == ("the Grafana boards", True)


async def test_teams_kudos_card_and_private_kudos_on_teams(server):
    server.core.clock = lambda: NOW
    await server.teams_send(
        server.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> --private for covering my shift", mentions=[("29:bob", "Bob Stone")])
    )
    await server.connector.wait_for(2)
    await settle(server)
    assert server.connector.sent_to("19:support@thread.tacv2") == []
    assert any("private kudos" in card_text(s) for s in server.connector.sent_to("a:personal-29:bob"))

    server.connector.sent.clear()
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> kudos"))
    form = (await server.connector.wait_for(1))[0].card
    jsonschema.validate(form, teams_card_schema())
    recipients = next(i for i in form["body"] if i.get("id") == "recipients")
    assert await server.teams_search("", recipients) == ["29:bob"]  # searched as you type; not Ana herself


async def test_allowance_and_pair_limit_reset_at_the_givers_local_midnight(database_url, fake_slack, fake_connector):
    """Ana is in Los Angeles (her team is in Berlin): her day ends at 08:00 UTC, not at 00:00 UTC or in Berlin."""
    fake_slack.add_user("U0ANA", "Ana Lima", "ana@example.com", tz="America/Los_Angeles")
    yaml = with_recognition("allowance: 2")
    at = lambda *hm: datetime(2026, 11, 20, *hm, tzinfo=UTC)  # noqa: E731
    async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:
        server.core.clock = lambda: at(7, 30)  # Thu 19 Nov, 23:30 in Los Angeles
        assert "Kudos sent to" in await kudos(server, "<@U0BOB|bob> <@U0CARLA|carla> for the release")
        server.core.clock = lambda: at(7, 59)
        assert "you have used 2 today" in await kudos(server, "<@U0DAN|dan> for the handover")
        server.core.clock = lambda: at(8, 0)  # Fri 20 Nov, 00:00 in Los Angeles: a new day, Bob again too
        assert "Kudos sent to" in await kudos(server, "<@U0BOB|bob> for the handover")
        answer = await kudos(server, "<@U0BOB|bob> for the second handover")
        assert "You already gave kudos to Bob Stone today" in answer
        # Midnight in UTC is not her midnight: 00:30 UTC on 21 Nov is still Friday afternoon in Los Angeles.
        server.core.clock = lambda: at(23, 30) + timedelta(hours=1)
        assert "You already gave kudos to Bob Stone today" in await kudos(server, "<@U0BOB|bob> for the late fix")
        assert "Kudos sent to" in await kudos(server, "<@U0DAN|dan> for the runbook")
        assert "you have used 2 today" in await kudos(server, "<@U0ERIN|erin> for the dashboards")
        assert count(server.engine, Kudos) == 3


async def test_weekly_allowance_starts_on_the_givers_local_monday(database_url, fake_slack, fake_connector):
    fake_slack.add_user("U0ANA", "Ana Lima", "ana@example.com", tz="Pacific/Auckland")  # UTC+13 in November
    yaml = with_recognition("allowance: 3\nallowance_period: week")
    at = lambda day, hour: datetime(2026, 11, day, hour, tzinfo=UTC)  # noqa: E731
    async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:
        server.core.clock = lambda: at(22, 11) + timedelta(minutes=30)  # Sunday in UTC, Mon 23 Nov 00:30 in Auckland
        assert "Kudos sent to" in await kudos(server, "<@U0BOB|bob> for the release")
        server.core.clock = lambda: at(23, 9)  # Mon 22:00 in Auckland
        assert "Kudos sent to" in await kudos(server, "<@U0CARLA|carla> for the release notes")
        server.core.clock = lambda: at(26, 1)  # Thu 14:00 in Auckland
        assert "Kudos sent to" in await kudos(server, "<@U0DAN|dan> for the handover")
        assert "allowance is 3 people per week and you have used 3 this week" in await kudos(server, "<@U0ERIN|erin> for the dashboards")
        server.core.clock = lambda: at(29, 11)  # Sunday in UTC, Mon 30 Nov 00:00 in Auckland: a new week
        assert "Kudos sent to" in await kudos(server, "<@U0ERIN|erin> <@U0BOB|bob> <@U0CARLA|carla> for the dashboards")


async def test_a_teams_giver_without_a_timezone_gets_the_teams_day(database_url, fake_slack, fake_connector):
    """Teams profiles carry no timezone: Ana's day follows her team's (Berlin), not UTC."""
    yaml = with_recognition("allowance: 1")

    async def teams_kudos(server, name: str, member: str) -> str:
        before = len(server.connector.sent)
        activity = server.teams_activity(f"<at>pulsebridge</at> kudos <at>{name}</at> for the release", mentions=[(member, name)])
        await server.teams_send(activity)
        await settle(server)
        replies = [x for x in server.connector.sent[before:] if x.conversation_id == activity["conversation"]["id"]]
        assert replies, "no reply"
        return card_text(replies[0]) + (replies[0].activity.get("text") or "")

    async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:
        server.core.clock = lambda: datetime(2026, 11, 19, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
        assert "Kudos sent to" in await teams_kudos(server, "Bob Stone", "29:bob")
        server.core.clock = lambda: datetime(2026, 11, 19, 23, 30, tzinfo=UTC)  # 00:30 on 20 Nov in Berlin, still 19 Nov in UTC
        assert "Kudos sent to" in await teams_kudos(server, "Carla Diaz", "29:carla")
        server.core.clock = lambda: datetime(2026, 11, 20, 0, 30, tzinfo=UTC)  # a new day in UTC, not in Berlin
        assert "allowance is 1 person per day" in await teams_kudos(server, "Dan Wu", "29:dan")
        with session(server.engine) as s:
            ana = s.execute(select(User).where(User.external_id == "29:ana")).scalar_one()
            assert ana.timezone is None
