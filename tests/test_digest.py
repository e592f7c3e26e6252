"""The weekly digest for a seeded week: channel post in digest mode, leads' quiet contributors, templates."""

from __future__ import annotations


from datetime import timedelta

import jsonschema
import pytest

from bot.kernel.errors import ConfigError
from bot.app import parse_org_config
from tests.conftest import teams_card_schema, wait_for_scheduler
from tests.recognition_support import NOW, card_text, custom_server, settle, slack_texts, win_state, with_recognition

DIGEST_YAML = with_recognition("", {"support": "recognition_posts: digest"})


async def kudos(server, text: str, user_id: str = "U0ANA") -> None:
    """Send /kudos and wait for its answer: Slack commands are handled after the ack."""
    before = len(server.slack.calls_to("response_url"))
    await server.slack_command("/kudos", text, user_id=user_id)
    await server.slack.wait_for("response_url", before + 1)


async def seed_week(server):
    """Mon–Thu of the week before NOW (a Friday), plus one kudos from three weeks earlier."""
    server.core.clock = lambda: NOW - timedelta(days=20)
    await kudos(server, "<@U0ANA|ana> for the old migration #ownership", user_id="U0ERIN")
    server.core.clock = lambda: NOW - timedelta(days=4)
    await kudos(server, "<@U0BOB|bob> for the Acme escalation #customer-first")
    await kudos(server, "<@U0BOB|bob> for the runbook #craft", user_id="U0DAN")
    await kudos(server, "<@U0CARLA|carla> --private for the secret thing")
    await server.slack_interaction(server.view_submission("win.record", win_state(date="2026-11-16", contributors=("U0BOB", "U0ERIN")), user_id="U0DAN"))
    await server.slack.wait_for("chat.postMessage", 9)
    await settle(server)
    server.core.clock = lambda: NOW
    # The bot has been installed on Teams (it has heard from someone), so it can write to the team channel there.
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> help"))
    await server.connector.wait_for(1)
    server.slack.calls.clear()
    server.connector.sent.clear()


async def run_digest(server, team: str):
    await server.core.jobs["recognition.digest"](server.core, team=team)


async def test_digest_for_a_seeded_week(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, DIGEST_YAML) as server:
        await seed_week(server)
        # Digest mode: the support channel got no per-kudos post during the week (only the win).
        await run_digest(server, "support")
        posts = {c.params["channel"]: c for c in server.slack.calls_to("chat.postMessage")}
        assert set(posts) == {"C0SUPPORT", "U0ANA"}

        channel = slack_texts(posts["C0SUPPORT"])
        header = posts["C0SUPPORT"].params["blocks"][0]
        assert header["type"] == "header" and header["text"]["text"] == "Recognition this week · Customer Support"
        assert "2026-11-13 to 2026-11-20 · 2 kudos · 1 customer win(s)" in channel
        assert "Acme Corp: Saved the renewal after the SSO outage ($120k ARR)" in channel
        assert "Made happen by Bob Stone, Erin Park" in channel
        assert "#craft: 1" in channel and "#customer-first: 1" in channel and "#ownership" not in channel
        assert "Bob Stone" in channel.split("Recognised this week")[1]
        # Private kudos never reach a channel or a digest; nobody is pinged by a digest.
        assert "secret" not in channel and "Carla" not in channel and "<@" not in channel

        teams_post = server.connector.sent_to("19:support@thread.tacv2")
        assert len(teams_post) == 1
        jsonschema.validate(teams_post[0].card, teams_card_schema())
        assert "Acme Corp" in card_text(teams_post[0]) and "secret" not in card_text(teams_post[0])

        lead = slack_texts(posts["U0ANA"])
        assert "Quiet contributors (only you see this)" in lead
        quiet = lead.split("Quiet contributors")[1]
        # Carla only got private kudos, which do not count here (the lead must not learn of them).
        assert "Carla Diaz" in quiet and "Bob Stone" not in quiet and "Ana Lima" not in quiet
        assert "secret" not in lead

        # The job is idempotent per ISO week: a re-run (e.g. after a restart) posts nothing new.
        await run_digest(server, "support")
        await settle(server)
        assert len(server.slack.calls_to("chat.postMessage")) == 2 and len(server.connector.sent) == 1


async def test_per_kudos_team_gets_no_channel_digest_but_its_lead_gets_the_private_one(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, DIGEST_YAML) as server:
        await seed_week(server)
        await run_digest(server, "platform")
        posts = server.slack.calls_to("chat.postMessage")
        assert [p.params["channel"] for p in posts] == ["U0DAN"]
        text = slack_texts(posts[0])
        assert "Recognition this week · Platform" in text and "Acme Corp" in text
        assert "Everyone on the team was recognised in the last 30 days" in text  # Erin was part of the win
        assert server.connector.sent_to("19:platform@thread.tacv2") == []


async def test_big_teams_default_to_the_digest(database_url, fake_slack, fake_connector):
    yaml = with_recognition("digest_above: 2")  # support has 3 members → digest; platform has 2 → per kudos
    async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:
        await server.slack_command("/kudos", "<@U0BOB|bob> <@U0ERIN|erin> for the launch")
        await server.slack.wait_for("chat.postMessage", 3)
        await settle(server)
        channels = sorted(p.params["channel"] for p in server.slack.calls_to("chat.postMessage"))
        assert channels == ["C0PLATFORM", "U0BOB", "U0ERIN"]


async def test_operator_template_override_and_user_text_cannot_shape_the_message(database_url, fake_slack, fake_connector, tmp_path):
    (tmp_path / "digest.txt.j2").write_text(
        "# Wins for {{ team }}\n{% for win in wins %}\n{{ win.customer }}\n- {{ win.summary }}\n{% endfor %}\n", encoding="utf-8"
    )
    yaml = with_recognition(f"templates_dir: {tmp_path}", {"support": "recognition_posts: digest"})
    async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:
        state = win_state(customer="# <!channel> Free pizza", summary="line one\n# line two\n> line three", contributors=("U0BOB",))
        await server.slack_interaction(server.view_submission("win.record", state))
        await server.slack.wait_for("chat.postMessage", 3)
        server.slack.calls.clear()
        server.core.clock = lambda: NOW + timedelta(hours=1)
        await run_digest(server, "support")
        post = next(p for p in await server.slack.wait_for("chat.postMessage") if p.params["channel"] == "C0SUPPORT")
        blocks = post.params["blocks"]
        assert [b["type"] for b in blocks] == ["header", "section", "section"]
        assert blocks[0]["text"]["text"] == "Wins for Customer Support"
        assert blocks[1]["text"]["text"] == "# &lt;!channel&gt; Free pizza"
        assert blocks[2]["text"]["text"] == "• line one # line two &gt; line three"
        assert all(b["text"].get("verbatim", True) for b in blocks[1:])


def test_templates_dir_must_exist_and_templates_must_compile(tmp_path):
    with pytest.raises(ConfigError, match="templates_dir .* is not a directory"):
        parse_org_config(with_recognition(f"templates_dir: {tmp_path / 'missing'}"), "org.yaml")
    (tmp_path / "digest.txt.j2").write_text("# {{ team \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"digest\.txt\.j2:1"):
        parse_org_config(with_recognition(f"templates_dir: {tmp_path}"), "org.yaml")


async def test_startup_schedules_a_weekly_digest_per_team_in_its_timezone(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, DIGEST_YAML, PULSEBRIDGE_SCHEDULER=True) as server:
        job = (await wait_for_scheduler(server.core)).apscheduler.get_job("recognition-digest:support")
        assert job.kwargs == {"name": "recognition.digest", "team": "support"}
        assert str(job.trigger.timezone) == "Europe/Berlin"
        fields = {f.name: str(f) for f in job.trigger.fields}
        assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("fri", "16", "0")
        assert server.core.scheduler.apscheduler.get_job("recognition-digest:platform").trigger.timezone.key == "America/New_York"


async def test_a_template_that_cannot_render_is_logged_and_nothing_is_sent(database_url, fake_slack, fake_connector, tmp_path, caplog):
    (tmp_path / "digest.txt.j2").write_text("# {{ no_such_variable }}\n", encoding="utf-8")
    yaml = with_recognition(f"templates_dir: {tmp_path}", {"support": "recognition_posts: digest"})
    async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:
        assert "recognition template digest.txt.j2 cannot render" in caplog.text  # reported at start-up
        await kudos(server, "<@U0BOB|bob> for the fix")
        await server.slack.wait_for("chat.postMessage")  # Bob's DM; the support channel is in digest mode
        await settle(server)
        server.slack.calls.clear()
        server.core.clock = lambda: NOW + timedelta(hours=1)
        await run_digest(server, "support")
        await settle(server)
        assert server.slack.calls_to("chat.postMessage") == []
        assert "recognition digest for support not sent: template error" in caplog.text


async def test_a_busy_week_still_fits_in_one_slack_message(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, DIGEST_YAML) as server:
        for i in range(18):
            status, body = await server.slack_interaction(server.view_submission("win.record", win_state(customer=f"Customer {i:02d}", contributors=("U0BOB",))))
            assert "errors" not in body
        await server.slack.wait_for("chat.postMessage", 18 * 3)  # each win: confirmation, channel post, Bob's DM
        await settle(server)
        server.slack.calls.clear()
        server.core.clock = lambda: NOW + timedelta(hours=1)
        await run_digest(server, "support")
        post = next(p for p in await server.slack.wait_for("chat.postMessage") if p.params["channel"] == "C0SUPPORT")
        assert len(post.params["blocks"]) <= 50
        text = slack_texts(post)
        assert "18 customer win(s)" in text and "…and 3 more" in text and "Customer 14" in text


async def test_praise_from_a_customer_counts_as_recognition(database_url, fake_slack, fake_connector):
    from tests.feedback_support import FEEDBACK_ORG_YAML, fixture, post_feedback, start_feedback_server

    yaml = FEEDBACK_ORG_YAML.replace("    timezone: Europe/Berlin\n", "    timezone: Europe/Berlin\n    recognition_posts: digest\n", 1)
    runner, server = await start_feedback_server(database_url, fake_slack, fake_connector, yaml)
    try:
        server.core.clock = lambda: NOW + timedelta(days=1)
        status, body = await post_feedback(server, fixture("generic"))  # Carla is named in the praise
        assert status == 201 and body["relay"] == "relayed", body
        await server.slack.wait_for("chat.postMessage", 2)
        await settle(server)
        server.slack.calls.clear()

        await run_digest(server, "support")
        posts = {c.params["channel"]: slack_texts(c) for c in server.slack.calls_to("chat.postMessage")}
        assert "1 kudos from customers" in posts["C0SUPPORT"] and "##" not in posts["C0SUPPORT"]  # the next heading stays a heading
        assert "Carla Diaz" in posts["C0SUPPORT"].split("Recognised this week")[1]
        quiet = posts["U0ANA"].split("Quiet contributors")[1]
        assert "Carla Diaz" not in quiet and "Bob Stone" in quiet

        await server.slack_command("/kudos", "stats", user_id="U0CARLA")
        stats = slack_texts((await server.slack.wait_for("response_url"))[-1])
        assert "Praise from customers: 1" in stats
    finally:
        await runner.cleanup()
        server.engine.dispose()
