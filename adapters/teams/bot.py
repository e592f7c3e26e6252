"""Teams wiring: the activity handler (inbound), responders, and the ChatAdapter implementation (outbound)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import jwt
from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    Mention,
)

from adapters.teams import render, translate
from bot.core import PulseBridge, error_message
from bot.directory import store_profile
from bot.events import ActionInvoked, MessageHandle, Profile
from bot.messages import Form, Message
from bot.ports import ChannelPost, Destination, DirectMessage, SendFailed
from bot.settings import Settings
from storage.db import session
from storage.directory import conversation, find_user, latest_conversation, personal_conversation, save_conversation_ref

log = logging.getLogger(__name__)


def cloud_adapter(settings: Settings) -> CloudAdapter:
    """JWT validation is on whenever MICROSOFT_APP_ID is set; without it the endpoint is anonymous (local use)."""
    config = SimpleNamespace(
        APP_ID=settings.MICROSOFT_APP_ID or "",
        APP_PASSWORD=settings.MICROSOFT_APP_PASSWORD or "",
        APP_TYPE=settings.MICROSOFT_APP_TYPE,
        APP_TENANTID=settings.MICROSOFT_APP_TENANT_ID or "",
    )
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))

    async def on_error(context: TurnContext, error: Exception) -> None:
        log.error("unhandled error in a Teams turn: %r", error, exc_info=error)
        await context.send_activity(_activity(error_message("Sorry, something went wrong on my side. Please try again.")))

    adapter.on_turn_error = on_error
    return adapter


def _to_activity(payload: dict) -> Activity:
    activity = Activity().deserialize(payload)
    # Entity drops mention fields on (de)serialization; the Mention model keeps them.
    activity.entities = [
        Mention(mentioned=ChannelAccount(**e["mentioned"]), text=e["text"], type="mention") for e in payload.get("entities", [])
    ] or None
    return activity


def _activity(message: Message) -> Activity:
    return _to_activity(render.activity_payload(message))


class TeamsAdapter:
    platform = translate.PLATFORM

    def __init__(self, cloud: CloudAdapter, core: PulseBridge, app_id: str):
        self.cloud = cloud
        self.core = core
        self.app_id = app_id

    async def _in(self, reference: ConversationReference, logic) -> None:
        await self.cloud.continue_conversation(reference, logic, self.app_id)

    async def _send_in(self, reference: ConversationReference, activity: Activity) -> MessageHandle:
        sent: dict[str, str] = {}

        async def logic(context: TurnContext) -> None:
            response = await context.send_activity(activity)
            sent["id"] = (response.id if response else None) or ""

        await self._in(reference, logic)
        return MessageHandle(self.platform, reference.conversation.id, sent.get("id", ""))

    def _reference_for(self, conversation_id: str) -> ConversationReference:
        """A stored reference, or one built from the newest known service URL and tenant."""
        with session(self.core.engine) as s:
            stored = conversation(s, self.platform, conversation_id)
            base = stored or latest_conversation(s, self.platform)
        if base is None:
            raise SendFailed("no Teams conversation seen yet: the bot must be installed before it can write")
        reference = ConversationReference().deserialize(base.reference)
        if stored is None:
            tenant = reference.conversation.tenant_id if reference.conversation else None
            reference.conversation = ConversationAccount(id=conversation_id, is_group=True, conversation_type="channel", tenant_id=tenant)
        return reference

    async def send(self, destination: Destination, message: Message) -> MessageHandle:
        return await self.send_activity(destination, _activity(message))

    async def send_activity(self, destination: Destination, activity: Activity) -> MessageHandle:
        if isinstance(destination, ChannelPost):
            return await self._send_in(self._reference_for(destination.channel_id), activity)
        if not isinstance(destination, DirectMessage):  # pragma: no cover - closed union
            raise TypeError(destination)
        with session(self.core.engine) as s:
            user = find_user(s, self.platform, destination.user.external_id)
            stored = personal_conversation(s, user.id) if user else None
            base = latest_conversation(s, self.platform, user.id if user else None)
        if stored is not None:
            return await self._send_in(ConversationReference().deserialize(stored.reference), activity)
        if base is None:
            raise SendFailed("no Teams conversation seen yet: the bot must be installed before it can write")
        return await self._create_personal(destination, ConversationReference().deserialize(base.reference), user.id if user else None, activity)

    async def update(self, handle: MessageHandle, message: Message) -> None:
        activity = _activity(message)
        activity.id = handle.message_id

        async def logic(context: TurnContext) -> None:
            await context.update_activity(activity)

        await self._in(self._reference_for(handle.conversation_id), logic)

    async def _create_personal(self, destination: DirectMessage, template: ConversationReference, user_id, activity: Activity) -> MessageHandle:
        """First DM to someone who never wrote to the bot: create the 1:1 chat and remember it."""
        tenant = template.conversation.tenant_id if template.conversation else None
        sent: dict[str, str] = {}
        params = ConversationParameters(
            is_group=False,
            bot=template.bot or ChannelAccount(id=self.app_id),
            members=[ChannelAccount(id=destination.user.external_id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}} if tenant else None,
        )

        async def logic(context: TurnContext) -> None:
            reference = TurnContext.get_conversation_reference(context.activity)
            with session(self.core.engine) as s, s.begin():
                save_conversation_ref(
                    s,
                    platform=self.platform,
                    conversation_id=reference.conversation.id,
                    kind="personal",
                    reference=reference.serialize(),
                    user_id=user_id,
                )
            sent["conversation"] = reference.conversation.id
            response = await context.send_activity(activity)
            sent["id"] = (response.id if response else None) or ""

        await self.cloud.create_conversation(self.app_id, logic, params, template.channel_id or "msteams", template.service_url, None)
        return MessageHandle(self.platform, sent.get("conversation", ""), sent.get("id", ""))

    async def fetch_profile(self, external_id: str) -> Profile | None:
        # Teams only answers member look-ups inside a conversation, so profiles arrive with
        # each activity (see TeamsBot) rather than through this call.
        return None


class TeamsResponder:
    """Answers go into the conversation the activity came from; updates replace the card that was clicked."""

    def __init__(self, turn_context: TurnContext, handle: MessageHandle | None = None):
        self.turn_context = turn_context
        self.handle = handle

    async def reply(self, message: Message) -> None:
        await self.turn_context.send_activity(_activity(message))

    async def open_form(self, form: Form) -> None:
        await self.turn_context.send_activity(_to_activity(render.form_payload(form)))

    async def update(self, message: Message) -> None:
        if self.handle is None:
            await self.reply(message)
            return
        activity = _activity(message)
        activity.id = self.handle.message_id
        await self.turn_context.update_activity(activity)

    async def form_errors(self, errors: dict[str, str]) -> None:
        await self.reply(error_message(" ".join(errors.values())))


class TeamsBot(ActivityHandler):
    def __init__(self, core: PulseBridge):
        self.core = core

    async def on_turn(self, turn_context: TurnContext) -> None:
        self._remember(turn_context)
        await super().on_turn(turn_context)

    def _remember(self, turn_context: TurnContext) -> None:
        """Keep the ConversationReference of every conversation the bot hears from, for proactive messages."""
        activity = turn_context.activity
        if not activity.conversation or not activity.conversation.id or not activity.service_url:
            return
        kind = translate.conversation_kind(activity)
        reference = TurnContext.get_conversation_reference(activity)
        with session(self.core.engine) as s, s.begin():
            user_id = None
            sender = activity.from_property
            if kind == "personal" and sender and sender.id:
                user = find_user(s, translate.PLATFORM, sender.id) or store_profile(
                    s, Profile(translate.PLATFORM, sender.id, sender.name or "")
                )
                user_id = user.id
            save_conversation_ref(
                s,
                platform=translate.PLATFORM,
                conversation_id=activity.conversation.id,
                kind=kind,
                reference=reference.serialize(),
                user_id=user_id,
            )

    async def _profile(self, turn_context: TurnContext, member_id: str, name: str) -> Profile:
        try:
            account = await TeamsInfo.get_member(turn_context, member_id)
        except Exception as exc:  # noqa: BLE001 - an unreachable roster must not block the command
            log.info("Teams member look-up for %s failed: %s", member_id, exc)
            account = None
        return translate.profile(account, member_id, name)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        sender = activity.from_property
        if activity.value and not activity.text:
            actor = await self._profile(turn_context, sender.id, sender.name or "")
            event = translate.submission(activity, actor)
            if event is None:
                return
            responder = TeamsResponder(turn_context, event.message if isinstance(event, ActionInvoked) else None)
            if isinstance(event, ActionInvoked):
                await self.core.handle_action(event, responder)
            else:
                await self.core.handle_form(event, responder)
            return
        if not activity.text:
            return
        actor = await self._profile(turn_context, sender.id, sender.name or "")
        bot_id = activity.recipient.id if activity.recipient else None
        mentioned = [
            await self._profile(turn_context, e["mentioned"]["id"], e["mentioned"].get("name") or "")
            for e in translate.mentions(activity)
            if e["mentioned"]["id"] != bot_id
        ]
        cmd = translate.command(activity, actor, tuple(mentioned))
        responder = TeamsResponder(turn_context)
        if cmd is None:
            await responder.reply(self.core.help_message())
            return
        await self.core.handle_command(cmd, responder)


def http_handler(cloud: CloudAdapter, bot: TeamsBot):
    async def handle(request: web.Request) -> web.Response:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected Content-Type: application/json"}, status=415)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not valid JSON"}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return web.json_response({"error": "activity must be a JSON object with a 'type'"}, status=400)
        try:
            response = await cloud.process(request, bot)
        except jwt.PyJWTError:
            # botframework only maps PermissionError to 401; a token that is not even a JWT must be one too.
            return web.json_response({"error": "invalid Authorization token"}, status=401)
        return response or web.Response(status=201)

    return handle
