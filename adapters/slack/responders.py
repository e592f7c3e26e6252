"""How the core's answers reach one Slack user: response_url, modals, chat.update, view acks.

Slack answers a response_url it will not show with 200 and an error body, so every answer is
read: a refusal is logged and counted (pulsebridge_outbound_refused_total) and the reply is sent
again as plain text, so the person still hears what happened.
"""

from __future__ import annotations

import asyncio
import json
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from adapters.slack.client import refused
from bot.kernel.events import MessageHandle
from bot.kernel.messages import Form, Message, Paragraph

log = logging.getLogger(__name__)

# A command whose form needs a slow look-up first: after this long without a form, a "Loading…"
# modal is opened on the trigger_id (good for 3 s) and later replaced by the form.
HOLD_SECONDS = 1.5
# Slack accepts at most five posts to one response_url (within 30 minutes of the interaction).
RESPONSE_URL_USES = 5


def webhook_error(response) -> str | None:
    """Slack's error for a response_url post, or None when it was accepted."""
    if response is None:
        return None
    status = getattr(response, "status_code", 200) or 200
    body = (getattr(response, "body", "") or "").strip()
    if body.startswith("{"):
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        if isinstance(data, dict) and data.get("ok") is False:
            return str(data.get("error") or f"http_{status}")
    if status >= 400:
        return body[:60] or f"http_{status}"
    return None


class CommandResponder:
    """For slash commands and button clicks: ephemeral answers via response_url, forms via views.open."""

    def __init__(self, client: AsyncWebClient, respond, trigger_id: str | None, handle: MessageHandle | None = None, user_id: str | None = None):
        self.client = client
        self.respond = respond
        self.trigger_id = trigger_id
        self.handle = handle
        self.user_id = user_id
        self._hold: asyncio.Task | None = None
        self._loading_started = False
        self.uses = 0  # posts to the response_url so far

    async def _post(self, **kwargs) -> None:
        """One response_url post, checked; a refused one is retried as its plain text."""
        self.uses += 1
        error = webhook_error(await self.respond(**kwargs))
        if error is None:
            return
        code = refused("response_url", error)
        if kwargs.get("blocks") and self.uses < RESPONSE_URL_USES:
            self.uses += 1
            fallback = {k: v for k, v in kwargs.items() if k != "blocks"}
            error = webhook_error(await self.respond(**fallback))
            if error is not None:
                refused("response_url", error)
        log.warning("response_url refused a reply with %s; sent its text only", code)

    async def reply(self, message: Message) -> None:
        view_id = await self._held_view()
        if view_id is not None:
            await self._update_view(view_id, render.message_modal("pulsebridge", message))
            return
        pages = render.pages(message)
        # One response_url post is kept for a later reply (a notice after the follow-ups): a long
        # answer that would use it up goes to the person's DM, and the ephemeral reply says so.
        if len(pages) > RESPONSE_URL_USES - 1 - self.uses and self.user_id:
            for page in pages:
                await self.client.chat_postMessage(channel=self.user_id, unfurl_links=False, unfurl_media=False, **page)
            note = f"{message.summary}: the answer is long ({len(pages)} parts), so I've sent it to our direct messages."
            pages = render.pages(Message(note, (Paragraph((note,)),)))
        for page in pages[: max(RESPONSE_URL_USES - self.uses, 0)]:
            await self._post(response_type="ephemeral", replace_original=False, **page)

    # -- forms --------------------------------------------------------------------------------------
    async def hold_form(self) -> None:
        """The core is about to do slow work before opening a form: keep the trigger_id alive."""
        if self.trigger_id and self._hold is None:
            self._hold = asyncio.ensure_future(self._open_loading())

    async def _open_loading(self) -> str | None:
        await asyncio.sleep(HOLD_SECONDS)
        self._loading_started = True
        loading = Message("Loading…", (Paragraph(("⏳ One moment…",)),))
        response = await self.client.views_open(trigger_id=self.trigger_id, view=render.message_modal("pulsebridge", loading))
        return response["view"]["id"]

    async def _held_view(self) -> str | None:
        """The id of the loading modal if one opened (waiting for it if it is opening); None otherwise."""
        hold, self._hold = self._hold, None
        if hold is None:
            return None
        if not self._loading_started:
            hold.cancel()  # still sleeping: no modal was or will be opened
            return None
        try:
            return await hold
        except SlackApiError:
            return None  # counted and logged by the client; answer the ordinary way

    async def finish(self) -> None:
        """After the handler: a loading modal that nothing replaced (the handler failed) says so instead of spinning."""
        view_id = await self._held_view()
        if view_id is not None:
            oops = Message("Something went wrong", (Paragraph(("⚠️ Something went wrong on my side. Please try again in a moment.",)),))
            await self._update_view(view_id, render.message_modal("pulsebridge", oops))

    async def _update_view(self, view_id: str, view: dict) -> None:
        try:
            await self.client.views_update(view_id=view_id, view=view)
        except SlackApiError:
            pass  # counted and logged by the client; the loading modal stays, nothing else can be done

    async def open_form(self, form: Form) -> None:
        view_id = await self._held_view()
        if view_id is not None:
            await self._update_view(view_id, render.modal(form))
            return
        try:
            await self.client.views_open(trigger_id=self.trigger_id, view=render.modal(form))
        except SlackApiError as exc:
            # Typically expired_trigger_id: the form can no longer open from this click.
            error = exc.response.get("error")
            await self.reply(Message(f"The form could not open ({error}).", (Paragraph((f"⚠️ The form could not open ({error}). Please run the command again.",)),)))

    async def update(self, message: Message) -> None:
        if self.handle is not None:
            await self.client.chat_update(channel=self.handle.conversation_id, ts=self.handle.message_id, **render.message_kwargs(message))
        else:
            await self._post(replace_original=True, **render.message_kwargs(message))

    async def form_errors(self, errors: dict[str, str]) -> None:
        await self.reply(Message(summary=" ".join(errors.values())))


class ViewResponder:
    """For modal submissions: the HTTP ack itself carries field errors or a replacement view.

    When the handler is slow (look-ups before it can decide), app.py acks empty before Slack's 3 s
    run out; from then on the modal is closed and everything goes to the person by DM. `ack` None:
    a submission processed again after a restart, whose modal closed long ago.
    """

    def __init__(self, client: AsyncWebClient, ack, user_id: str):
        self.client = client
        self._ack = ack
        self.user_id = user_id
        self.acked = ack is None
        self.answered = asyncio.Event()  # set once the ack is given: the listener can return it

    async def ack(self, **kwargs) -> None:
        if not self.acked:
            self.acked = True
            await self._ack(**kwargs)
        self.answered.set()

    async def finish(self) -> None:
        """The handler is done: an answer it did not give in the ack (nothing to show) closes the modal."""
        await self.ack()

    async def reply(self, message: Message) -> None:
        await self.ack()
        for page in render.pages(message):
            try:
                await self.client.chat_postMessage(channel=self.user_id, unfurl_links=False, unfurl_media=False, **page)
            except SlackApiError:
                if not page.get("blocks"):
                    raise
                await self.client.chat_postMessage(channel=self.user_id, text=page["text"])

    async def open_form(self, form: Form) -> None:
        if self.acked:
            await self.reply(Message(form.title, (Paragraph((f"Please open “{form.title}” again: it took me too long to prepare it.",)),)))
            return
        await self.ack(response_action="update", view=render.modal(form))

    async def update(self, message: Message) -> None:
        await self.reply(message)

    async def form_errors(self, errors: dict[str, str]) -> None:
        if self.acked:
            text = "Nothing was saved from your form: " + " ".join(errors.values()) + " Please fill it in again."
            await self.reply(Message(text, (Paragraph(("⚠️ " + text,)),)))
            return
        await self.ack(response_action="errors", errors=errors)
