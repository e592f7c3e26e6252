"""The generic plumbing features build on: buttons update messages in place, forms open and validate."""

from __future__ import annotations

import jsonschema

from bot.kernel.core import FormInvalid, Outcome
from bot.kernel.messages import Form, Message, Paragraph, TextInput, UserSelect
from tests.conftest import handled, teams_card_schema

FORM = Form(
    form_id="test.form",
    title="Tell us",
    submit_label="Send",
    fields=(TextInput("what", "What happened?", multiline=True, max_length=500), UserSelect("who", "Who helped?", optional=True)),
    metadata="ctx-42",
)


def install_handlers(core, seen):
    async def on_action(core_, action):
        seen.append(action)
        return Outcome(update=Message("Thanks", (Paragraph((f"You chose {action.value}",)),)), reply=Message("noted", (Paragraph(("noted",)),)))

    async def on_form(core_, submission):
        seen.append(submission)
        if not (submission.values.get("what") or "").strip():
            raise FormInvalid({"what": "Please describe what happened."})
        return Outcome(reply=Message("stored", (Paragraph(("stored",)),)))

    core.action("test.pick", on_action)
    core.form("test.form", on_form)


async def test_slack_button_updates_message_in_place_and_form_errors_come_back_in_the_ack(server):
    seen = []
    install_handlers(server.core, seen)
    status, _ = await server.slack_interaction(server.block_actions("test.pick:3", "3", channel="D0ANA", message_ts="1700000000.000042"))
    assert status == 200
    update = (await server.slack.wait_for("chat.update"))[0]
    assert (update.params["channel"], update.params["ts"]) == ("D0ANA", "1700000000.000042")
    assert "You chose 3" in update.params["blocks"][0]["text"]["text"]
    assert seen[0].action_id == "test.pick:3" and seen[0].actor.external_id == "U0ANA"

    status, body = await server.slack_interaction(
        server.view_submission("test.form", {"what": {"type": "plain_text_input", "value": "  "}, "who": {"type": "multi_users_select", "selected_users": []}})
    )
    assert status == 200
    assert '"response_action":"errors"' in body.replace(" ", "") and "Please describe" in body

    status, body = await server.slack_interaction(
        server.view_submission("test.form", {"what": {"type": "plain_text_input", "value": "fixed it"}, "who": {"type": "multi_users_select", "selected_users": ["U0BOB"]}}, private_metadata="ctx-42")
    )
    assert status == 200 and "errors" not in body
    assert seen[-1].values == {"what": "fixed it", "who": ["U0BOB"]} and seen[-1].metadata == "ctx-42"
    dm = await server.slack.wait_for("chat.postMessage")
    assert dm[0].params["channel"] == "U0ANA"


async def test_teams_card_submit_routes_to_action_and_form_and_updates_the_card(server):
    seen = []
    install_handlers(server.core, seen)
    await server.teams_send(server.teams_submit({"action_id": "test.pick:2", "value": "2"}, reply_to_id="act-77"))
    await handled(server)
    assert len(server.connector.updated) == 1
    assert server.connector.updated[0].reply_to == "act-77"
    assert seen[0].value == "2" and seen[0].message.message_id == "act-77"

    await server.teams_send(server.teams_submit({"form_id": "test.form", "metadata": "ctx-42", "multi": ["who"], "what": "fixed it", "who": "29:bob,29:dan"}))
    await handled(server)
    assert seen[-1].values == {"what": "fixed it", "who": ["29:bob", "29:dan"]} and seen[-1].metadata == "ctx-42"


async def test_forms_render_as_valid_modal_and_adaptive_card(server):
    from adapters.slack.render import modal
    from adapters.teams.render import form_card

    jsonschema.validate(form_card(FORM), teams_card_schema())
    view = modal(FORM)
    assert view["callback_id"] == "test.form" and view["private_metadata"] == "ctx-42"
    assert [b["block_id"] for b in view["blocks"]] == ["what", "who"]
    assert view["blocks"][1]["optional"] is True


async def test_slack_command_can_open_a_modal(server):
    async def open_form(core_, cmd):
        return Outcome(form=FORM)

    server.core.command("goals", "test", "/goals", open_form)
    await server.slack_command("/goals", "")
    opened = (await server.slack.wait_for("views.open"))[0]
    assert opened.params["view"]["callback_id"] == "test.form"
    assert opened.params["trigger_id"]
