"""Teams wiring: the activity handler (inbound) and the ChatAdapter implementation (outbound)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

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
)

from adapters.teams import render, translate
from bot.core import PulseBridge, help_message
from bot.directory import store_profile
from bot.events import Profile
from bot.messages import Message
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
        log.exception("unhandled error in a Teams turn", exc_info=error)
        await context.send_activity(
            Activity().deserialize(render.activity_payload(Message(summary="Sorry, something went wrong on my side. Please try again.")))
        )

    adapter.on_turn_error = on_error
    return adapter


def _activity(message: Message) -> Activity:
    return Activity().deserialize(render.activity_payload(message))


class TeamsAdapter:
    platform = translate.PLATFORM

    def __init__(self, cloud: CloudAdapter, core: PulseBridge, app_id: str):
        self.cloud = cloud
        self.core = core
        self.app_id = app_id

    async def _send_in(self, reference: ConversationReference, message: Message) -> str:
        sent: dict[str, str] = {}

        async def callback(context: TurnContext) -> None:
            response = await context.send_activity(_activity(message))
            sent["id"] = (response.id if response else None) or ""

        await self.cloud.continue_conversation(reference, callback, self.app_id)
        return sent.get("id", "")

    async def send(self, destination: Destination, message: Message) -> str:
        with session(self.core.engine) as s:
            if isinstance(destination, DirectMessage):
                user = find_user(s, self.platform, destination.user.external_id)
                stored = personal_conversation(s, user.id) if user else None
                base = latest_conversation(s, self.platform, user.id if user else None)
                user_id = user.id if user else None
            elif isinstance(destination, ChannelPost):
                stored = conversation(s, self.platform, destination.channel_id)
                base = latest_conversation(s, self.platform)
            else:  # pragma: no cover
                raise TypeError(destination)
        if stored is not None:
            return await self._send_in(ConversationReference().deserialize(stored.reference), message)
        if base is None:
            raise SendFailed("no Teams conversation seen yet: the bot must be installed before it can write")
        template = ConversationReference().deserialize(base.reference)
        tenant = template.conversation.tenant_id if template.conversation else None
        if isinstance(destination, ChannelPost):
            # A configured channel the bot has not heard from yet: same service URL and tenant.
            reference = ConversationReference(
                channel_id=template.channel_id or "msteams",
                service_url=template.service_url,
                bot=template.bot,
                conversation=ConversationAccount(
                    id=destination.channel_id, is_group=True, conversation_type="channel", tenant_id=tenant
                ),
            )
            return await self._send_in(reference, message)
        return await self._create_personal(destination, template, tenant, user_id, message)

    async def _create_personal(self, destination: DirectMessage, template: ConversationReference, tenant, user_id, message) -> str:
        """First DM to someone who never wrote to the bot: create the 1:1 chat and remember it."""
        sent: dict[str, str] = {}
        params = ConversationParameters(
            is_group=False,
            bot=template.bot or ChannelAccount(id=self.app_id),
            members=[ChannelAccount(id=destination.user.external_id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}} if tenant else None,
        )

        async def callback(context: TurnContext) -> None:
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
            response = await context.send_activity(_activity(message))
            sent["id"] = (response.id if response else None) or ""

        await self.cloud.create_conversation(
            self.app_id, callback, params, template.channel_id or "msteams", template.service_url, None
        )
        return sent.get("id", "")

    async def fetch_profile(self, external_id: str) -> Profile | None:
        # Teams only answers member look-ups inside a conversation, so profiles arrive with
        # each activity (see TeamsBot) rather than through this call.
        return None


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
        if not activity.text:
            return
        sender = activity.from_property
        actor = await self._profile(turn_context, sender.id, sender.name or "")
        mentioned = []
        bot_id = activity.recipient.id if activity.recipient else None
        for entity in translate.mentions(activity):
            if entity["mentioned"]["id"] != bot_id:
                mentioned.append(await self._profile(turn_context, entity["mentioned"]["id"], entity["mentioned"].get("name") or ""))
        cmd = translate.command(activity, actor, tuple(mentioned))

        async def reply(message: Message) -> None:
            await turn_context.send_activity(_activity(message))

        if cmd is None:
            await reply(help_message())
            return
        await self.core.handle_command(cmd, reply)


def http_handler(cloud: CloudAdapter, bot: TeamsBot):
    async def handle(request: web.Request) -> web.Response:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected Content-Type: application/json"}, status=415)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not valid JSON"}, status=400)
        if not isinstance(body, dict) or not body.get("type"):
            return web.json_response({"error": "activity must be a JSON object with a 'type'"}, status=400)
        response = await cloud.process(request, bot)
        return response or web.Response(status=201)

    return handle
