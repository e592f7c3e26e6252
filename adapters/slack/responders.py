"""How the core's answers reach one Slack user: response_url, modals, chat.update, view acks."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from bot.kernel.events import MessageHandle
from bot.kernel.messages import Form, Message


class CommandResponder:
    """For slash commands and button clicks: ephemeral answers via response_url, forms via views.open."""

    def __init__(self, client: AsyncWebClient, respond, trigger_id: str | None, handle: MessageHandle | None = None):
        self.client = client
        self.respond = respond
        self.trigger_id = trigger_id
        self.handle = handle

    async def reply(self, message: Message) -> None:
        await self.respond(response_type="ephemeral", replace_original=False, **render.message_kwargs(message))

    async def open_form(self, form: Form) -> None:
        await self.client.views_open(trigger_id=self.trigger_id, view=render.modal(form))

    async def update(self, message: Message) -> None:
        if self.handle is not None:
            await self.client.chat_update(channel=self.handle.conversation_id, ts=self.handle.message_id, **render.message_kwargs(message))
        else:
            await self.respond(replace_original=True, **render.message_kwargs(message))

    async def form_errors(self, errors: dict[str, str]) -> None:
        await self.reply(Message(summary=" ".join(errors.values())))


class ViewResponder:
    """For modal submissions: the HTTP ack itself carries field errors or a replacement view."""

    def __init__(self, client: AsyncWebClient, ack, user_id: str):
        self.client = client
        self._ack = ack
        self.user_id = user_id
        self.acked = False

    async def ack(self, **kwargs) -> None:
        if not self.acked:
            self.acked = True
            await self._ack(**kwargs)

    async def reply(self, message: Message) -> None:
        await self.ack()
        await self.client.chat_postMessage(channel=self.user_id, unfurl_links=False, unfurl_media=False, **render.message_kwargs(message))

    async def open_form(self, form: Form) -> None:
        await self.ack(response_action="update", view=render.modal(form))

    async def update(self, message: Message) -> None:
        await self.reply(message)

    async def form_errors(self, errors: dict[str, str]) -> None:
        await self.ack(response_action="errors", errors=errors)
