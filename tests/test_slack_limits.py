"""Slack's size limits: no message the bot sends can be one Slack drops.

Slack refuses a message of more than 50 blocks, a section over 3,000 characters or a header over
150 with `invalid_blocks` and shows nothing (from a response_url: HTTP 200 and an error body). The
renderer splits long messages into parts and clips text with a visible "…"; the fake Slack API
refuses what Slack refuses, and the bot logs and counts every refusal in /metrics.
"""

from __future__ import annotations

import logging
import re

import aiohttp
import pytest

from adapters.slack.render import MESSAGE_BLOCKS, blocks, clip, message_kwargs, modal, pages
from bot.kernel.messages import Actions, Button, Fields, Form, Heading, Message, Paragraph, Quote, TextInput
from tests.conftest import ORG_YAML
from tests.fakes.blockkit import block_problems, view_problems
from tests.recognition_support import custom_server, slack_texts


def _section_texts(rendered) -> list[str]:
    return [b["text"]["text"] for b in rendered if b["type"] == "section" and "text" in b]


def test_a_264_block_message_becomes_parts_of_at_most_50_blocks_and_keeps_every_line():
    message = Message("Pulse results", tuple(Paragraph((f"line {i}",)) for i in range(264)))
    parts = pages(message)
    assert len(parts) == 6
    assert all(len(p["blocks"]) <= MESSAGE_BLOCKS and not block_problems(p["blocks"], MESSAGE_BLOCKS) for p in parts)
    shown = [t for p in parts for t in _section_texts(p["blocks"])]
    assert shown == [f"line {i}" for i in range(264)]
    assert parts[0]["blocks"][-1]["elements"][0]["text"] == "Part 1 of 6"
    assert parts[5]["text"] == "Pulse results (part 6 of 6)"


def test_a_part_starts_at_a_heading_when_one_is_near_the_cut():
    body = []
    for team in range(6):
        body.append(Heading(f"Team {team}"))
        body.extend(Paragraph((f"{team}.{i}",)) for i in range(12))
    parts = pages(Message("x", tuple(body)))
    assert all(p["blocks"][0]["type"] == "header" for p in parts)


def test_past_ten_parts_the_last_one_says_how_much_was_left_out():
    parts = pages(Message("x", tuple(Paragraph((str(i),)) for i in range(2000))))
    assert len(parts) == 10
    assert "and 1511 more lines not shown" in parts[-1]["blocks"][-2]["elements"][0]["text"]
    assert all(not block_problems(p["blocks"], MESSAGE_BLOCKS) for p in parts)


def test_an_update_cannot_be_split_so_it_is_capped_with_a_visible_note():
    kwargs = message_kwargs(Message("x", tuple(Paragraph((str(i),)) for i in range(57))))
    assert len(kwargs["blocks"]) == MESSAGE_BLOCKS
    assert "and 8 more lines not shown" in kwargs["blocks"][-1]["elements"][0]["text"]


def test_long_text_is_clipped_with_an_ellipsis_never_inside_an_entity_or_a_mention():
    rendered = blocks(Message("x", (Paragraph(("a" * 2997 + "&&&",)), Quote("b" * 5000), Heading("h" * 400))))
    assert not block_problems(rendered, MESSAGE_BLOCKS)
    first = rendered[0]["text"]["text"]
    assert len(first) <= 3000 and first.endswith("a…")  # not "…&am…"
    assert rendered[1]["text"]["text"].endswith("…") and len(rendered[1]["text"]["text"]) == 3000
    assert rendered[2]["text"]["text"] == "h" * 149 + "…"
    assert clip("x" * 10 + "<@U0ANA>", 14) == "x" * 10 + "…"


def test_long_lists_are_spread_over_blocks_not_dropped():
    rendered = blocks(Message("x", (Fields(tuple((f"k{i}", "v") for i in range(25))), Actions(tuple(Button(str(i), f"a:{i}", "v") for i in range(30))))))
    assert [b["type"] for b in rendered] == ["section", "section", "section", "actions", "actions"]
    assert sum(len(b.get("fields", [])) for b in rendered) == 25
    assert sum(len(b.get("elements", [])) for b in rendered if b["type"] == "actions") == 30
    assert not block_problems(rendered, MESSAGE_BLOCKS)


def test_a_modal_keeps_its_inputs_and_stays_within_100_blocks():
    form = Form("f", "A title much longer than twenty-four", "Submit it now please", tuple(TextInput(f"t{i}", "L") for i in range(5)),
                intro=tuple(Paragraph((str(i),)) for i in range(150)))
    view = modal(form)
    assert not view_problems(view)
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [f"t{i}" for i in range(5)]
    with pytest.raises(ValueError, match="private_metadata"):
        modal(Form("f", "t", "s", (), metadata="m" * 3001))


async def _post(fake, method: str, payload: dict) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.url}/api/{method}", json=payload) as resp:
            return await resp.json()


async def test_the_fake_refuses_what_slack_refuses(fake_slack):
    fake_slack.expect_refusals()
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    assert (await _post(fake_slack, "chat.postMessage", {"channel": "C1", "blocks": [section] * 51}))["error"] == "invalid_blocks"
    long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    assert (await _post(fake_slack, "chat.postMessage", {"channel": "C1", "blocks": [long]}))["error"] == "invalid_blocks"
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    assert (await _post(fake_slack, "chat.update", {"channel": "C1", "ts": "1", "blocks": [header]}))["error"] == "invalid_blocks"
    view = {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": [section] * 101}
    assert (await _post(fake_slack, "views.open", {"trigger_id": "x", "view": view}))["error"] == "invalid_arguments"
    assert (await _post(fake_slack, "chat.postMessage", {"channel": "C1", "blocks": [section] * 50}))["ok"] is True
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake_slack.url}/response/t", json={"blocks": [section] * 51}) as resp:
            assert resp.status == 200 and (await resp.json())["error"] == "invalid_blocks"
    assert len(fake_slack.refusals) == 5


def _goals_yaml(n: int) -> str:
    goals = "".join(
        f"    - {{key: g{i}, title: Goal number {i}, metric: kudos_given, target: 10, period: month, teams: [support]}}\n" for i in range(n)
    )
    return ORG_YAML + "teamhealth:\n  goals:\n" + goals


async def _metric(server, name: str, **labels) -> float:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.metrics_url + "/metrics") as resp:
            text = await resp.text()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if match and ",".join(sorted(match.group(1).split(","))) == want:
            return float(match.group(2))
    return 0.0


async def test_goals_listing_of_60_goals_arrives_in_parts_slack_accepts(database_url, fake_slack, fake_connector):
    """The /goals answer of 61 blocks was dropped by Slack (invalid_blocks, nothing shown)."""
    async with custom_server(database_url, fake_slack, fake_connector, _goals_yaml(60)) as server:
        await server.slack_command("/goals", "", user_id="U0ANA")
        posted = await fake_slack.wait_for("response_url", 2)
        from tests.conftest import handled

        await handled(server)
        posted = fake_slack.calls_to("response_url")
        assert len(posted) == 2 and not fake_slack.refusals
        text = " ".join(slack_texts(call) for call in posted)
        assert all(f"Goal number {i}:" in text for i in range(60))
        assert all(len(call.params["blocks"]) <= MESSAGE_BLOCKS for call in posted)


async def test_a_refused_response_url_reply_is_logged_counted_and_resent_as_text(database_url, fake_slack, fake_connector, caplog):
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        before = await _metric(server, "pulsebridge_outbound_refused_total", platform="slack", method="response_url", error="invalid_blocks")
        fake_slack.fail_next("response_url", 200, body={"ok": False, "error": "invalid_blocks"})
        with caplog.at_level(logging.WARNING):
            await server.slack_command("/kudos", "stats", user_id="U0ANA")
            posted = await fake_slack.wait_for("response_url")
        assert "blocks" not in posted[0].params and "kudos" in posted[0].params["text"].lower()
        assert "Slack refused response_url: invalid_blocks" in caplog.text
        after = await _metric(server, "pulsebridge_outbound_refused_total", platform="slack", method="response_url", error="invalid_blocks")
        assert after == before + 1


async def test_a_refused_chat_post_is_counted_by_method_and_error(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        labels = dict(platform="slack", method="chat.postMessage", error="msg_too_long")
        before = await _metric(server, "pulsebridge_outbound_refused_total", **labels)
        fake_slack.fail_next("chat.postMessage", 200, body={"ok": False, "error": "msg_too_long"})
        await server.slack_command("/kudos", "<@U0BOB|bob> for the migration", user_id="U0ANA")
        await fake_slack.wait_for("chat.postMessage", 1)
        from tests.conftest import handled

        await handled(server)
        assert await _metric(server, "pulsebridge_outbound_refused_total", **labels) == before + 1


async def test_an_answer_too_long_for_the_response_url_goes_to_the_dm_with_a_pointer(database_url, fake_slack, fake_connector):
    """Slack takes five posts per response_url: a 5-part answer goes to the person's DM instead."""
    async with custom_server(database_url, fake_slack, fake_connector, _goals_yaml(200)) as server:
        await server.slack_command("/goals", "", user_id="U0ANA")
        await fake_slack.wait_for("response_url", timeout=90)
        from tests.conftest import handled

        await handled(server)
        dm = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0ANA"]
        assert len(dm) == 5 and all(len(c.params["blocks"]) <= MESSAGE_BLOCKS for c in dm)
        text = " ".join(slack_texts(c) for c in dm)
        assert all(f"Goal number {i}:" in text for i in range(200))
        (pointer,) = fake_slack.calls_to("response_url")
        assert "sent it to our direct messages" in slack_texts(pointer)
