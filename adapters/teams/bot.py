"""Teams wiring: the activity handler (inbound), responders, and the ChatAdapter implementation (outbound)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from aiohttp import web
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext, serializer_helper
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

from adapters.teams import msrest_retry, render, search, translate
from adapters.teams.security import GuardedAuthentication, Refused, ServiceUrls
from bot.kernel.core import PulseBridge, error_message
from bot.directory.lookup import store_profile
from bot.kernel.events import ActionInvoked, MessageHandle, Profile
from bot.kernel.metrics import outbound_call
from bot.kernel.messages import Form, Message, Paragraph, UserRef
from bot.kernel.ports import ChannelPost, Destination, DirectMessage, Outbound, Roster, SendFailed
from bot.kernel.settings import Settings
from storage.kernel.db import in_db_thread, session, write_unit
from storage.directory.sync import personal_conversations, shared_conversations
from storage.directory.queries import conversation, find_user, latest_conversation, personal_conversation, save_conversation_ref

log = logging.getLogger(__name__)

# The connector allows up to 500 members a page; fewer keeps each response small.
MEMBERS_PAGE = 100


def cloud_adapter(settings: Settings, credentials_factory=None) -> CloudAdapter:
    """A CloudAdapter whose every inbound activity passes GuardedAuthentication first.

    With MICROSOFT_APP_ID (settings.teams_mode == "signed") botframework checks the channel's JWT;
    in the explicit local mode it accepts unsigned activities. `credentials_factory` replaces how
    the bot gets its own outbound token (tests: no Azure AD to ask).
    """
    msrest_retry.apply()  # before any connector client is built
    config = SimpleNamespace(
        APP_ID=settings.MICROSOFT_APP_ID or "",
        APP_PASSWORD=settings.MICROSOFT_APP_PASSWORD or "",
        APP_TYPE=settings.MICROSOFT_APP_TYPE,
        APP_TENANTID=settings.MICROSOFT_APP_TENANT_ID or "",
    )
    if settings.MICROSOFT_OPENID_METADATA_URL:
        config.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = settings.MICROSOFT_OPENID_METADATA_URL
        config.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = settings.MICROSOFT_TOKEN_ISSUER
    inner = ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials_factory)
    adapter = CloudAdapter(
        GuardedAuthentication(
            inner,
            signed=settings.teams_mode == "signed",
            tenants=settings.teams_tenants,
            service_urls=ServiceUrls(settings.teams_service_hosts),
        )
    )

    async def on_error(context: TurnContext, error: Exception) -> None:
        log.error("unhandled error in a Teams turn: %r", error, exc_info=error)
        await context.send_activity(_activity(error_message("Sorry, something went wrong on my side. Please try again.")))

    adapter.on_turn_error = on_error
    return adapter


def _connector_status(exc: BaseException) -> int | None:
    """msrest's HttpOperationError (the connector's errors) carries the HTTP response."""
    return getattr(getattr(exc, "response", None), "status_code", None)


async def _raising(run, logic) -> None:
    """Run a proactive turn so that its failure reaches the caller.

    The adapter's on_turn_error would otherwise swallow it (and post an apology into the
    conversation), and the outbox would record an undelivered message as sent.
    """
    failures: list[BaseException] = []

    async def guarded(context: TurnContext) -> None:
        try:
            await logic(context)
        except Exception as exc:  # noqa: BLE001 - re-raised below, outside the turn pipeline
            failures.append(exc)

    await run(guarded)
    if failures:
        raise failures[0]


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

    def __init__(self, cloud: CloudAdapter, core: PulseBridge, app_id: str, service_urls: ServiceUrls):
        self.cloud = cloud
        self.core = core
        self.app_id = app_id
        self.service_urls = service_urls

    def _check(self, service_url: str | None) -> None:
        """Stored references may predate the allow-list (or come from a database someone edited)."""
        if not self.service_urls.allows(service_url):
            log.warning("not calling a Teams serviceUrl outside PULSEBRIDGE_TEAMS_SERVICE_HOSTS")
            raise SendFailed("the conversation's serviceUrl is not an allowed Bot Framework host")

    async def _in(self, reference: ConversationReference, logic) -> None:
        self._check(reference.service_url)
        await _raising(lambda guarded: self.cloud.continue_conversation(reference, guarded, self.app_id), logic)

    async def _send_in(self, reference: ConversationReference, activity: Activity) -> MessageHandle:
        sent: dict[str, str] = {}

        async def logic(context: TurnContext) -> None:
            with outbound_call("teams", "send_activity", _connector_status):
                response = await context.send_activity(activity)
            sent["id"] = (response.id if response else None) or ""

        await self._in(reference, logic)
        return MessageHandle(self.platform, reference.conversation.id, sent.get("id", ""))

    async def _reference_for(self, conversation_id: str) -> ConversationReference:
        """A stored reference, or one built from the newest known service URL and tenant."""
        stored, base = await in_db_thread(self.core.engine, "teams", _stored_reference, self.core.engine, conversation_id)
        if base is None:
            raise SendFailed("no Teams conversation seen yet: the bot must be installed before it can write")
        reference = ConversationReference().deserialize(base)
        if stored is None:
            tenant = reference.conversation.tenant_id if reference.conversation else None
            reference.conversation = ConversationAccount(id=conversation_id, is_group=True, conversation_type="channel", tenant_id=tenant)
        return reference

    async def send(self, destination: Destination, message: Message) -> MessageHandle:
        return await self.send_activity(destination, _activity(message))

    async def send_activity(self, destination: Destination, activity: Activity) -> MessageHandle:
        if isinstance(destination, ChannelPost):
            return await self._send_in(await self._reference_for(destination.channel_id), activity)
        if not isinstance(destination, DirectMessage):  # pragma: no cover - closed union
            raise TypeError(destination)
        user_id, stored, base = await in_db_thread(self.core.engine, "teams", _personal_reference, self.core.engine, destination.user.external_id)
        if stored is not None:
            return await self._send_in(ConversationReference().deserialize(stored), activity)
        if base is None:
            raise SendFailed("no Teams conversation seen yet: the bot must be installed before it can write")
        return await self._create_personal(destination, ConversationReference().deserialize(base), user_id, activity)

    async def update(self, handle: MessageHandle, message: Message) -> None:
        activity = _activity(message)
        activity.id = handle.message_id

        async def logic(context: TurnContext) -> None:
            with outbound_call("teams", "update_activity", _connector_status):
                await context.update_activity(activity)

        await self._in(await self._reference_for(handle.conversation_id), logic)

    async def _create_personal(self, destination: DirectMessage, template: ConversationReference, user_id, activity: Activity) -> MessageHandle:
        """First DM to someone who never wrote to the bot: create the 1:1 chat and remember it."""
        self._check(template.service_url)
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
            self._check(reference.service_url)
            await in_db_thread(self.core.engine, "teams", _save_reference, self.core.engine, reference.conversation.id, "personal", reference.serialize(), user_id)
            sent["conversation"] = reference.conversation.id
            with outbound_call("teams", "send_activity", _connector_status):
                response = await context.send_activity(activity)
            sent["id"] = (response.id if response else None) or ""

        with outbound_call("teams", "create_conversation", _connector_status):
            await _raising(
                lambda guarded: self.cloud.create_conversation(
                    self.app_id, guarded, params, template.channel_id or "msteams", template.service_url, None
                ),
                logic,
            )
        return MessageHandle(self.platform, sent.get("conversation", ""), sent.get("id", ""))

    async def fetch_profile(self, external_id: str) -> Profile | None:
        # Teams only answers member look-ups inside a conversation, so profiles arrive with
        # each activity (see TeamsBot) rather than through this call.
        return None


    async def roster(self, *, groups: bool = False) -> Roster:
        """Members of every team and group chat the bot is installed in, via the paged members API.

        Teams has no user groups to offer, so `groups` is ignored. The stored ConversationReferences
        are reused as they are, so proactive messages keep working for everyone listed.
        """
        references = await in_db_thread(self.core.engine, "teams", _shared_references, self.core.engine)
        people: dict[str, Profile] = {}
        complete = bool(references)
        visited: set[str] = set()
        for raw in references:
            reference = ConversationReference().deserialize(raw)
            # A channel thread's id carries ";messageid=…"; the members belong to the channel itself.
            conversation_id = reference.conversation.id.split(";", 1)[0]
            if conversation_id in visited:
                continue
            visited.add(conversation_id)
            reference.conversation.id = conversation_id

            async def logic(context: TurnContext) -> None:
                # No channel data on a proactive turn: TeamsInfo then pages the conversation's members.
                context.activity.channel_data = context.activity.channel_data or {}
                token = None
                while True:
                    with outbound_call("teams", "get_paged_members", _connector_status):
                        page = await TeamsInfo.get_paged_members(context, token, MEMBERS_PAGE)
                    for member in page.members or []:
                        people[member.id] = translate.profile(member, member.id, member.name or "")
                    token = page.continuation_token
                    if not token:
                        break

            try:
                await self._in(reference, logic)
            except Exception as exc:  # noqa: BLE001 - one unreadable team must not hide the others
                log.warning("listing members of Teams conversation %s failed: %s", conversation_id, type(exc).__name__)
                complete = False
        if not await self._add_personal_members(people):
            complete = False
        return Roster(tuple(people.values()), (), complete)

    async def _add_personal_members(self, people: dict[str, Profile]) -> bool:
        """People who only chat with the bot 1:1 are installed there too: look each one up in their chat.

        One call per person not already listed by a team, so a large tenant stays cheap. Returns
        False when a look-up failed for another reason than "not a member any more".
        """
        chats = [(ext, raw) for ext, raw in await in_db_thread(self.core.engine, "teams", _personal_references, self.core.engine) if ext not in people]
        ok = True
        for external_id, raw in chats:
            found: list[Profile] = []

            async def logic(context: TurnContext, member_id: str = external_id, found: list[Profile] = found) -> None:
                context.activity.channel_data = context.activity.channel_data or {}
                with outbound_call("teams", "get_member", _connector_status):
                    account = await TeamsInfo.get_member(context, member_id)
                found.append(translate.profile(account, member_id, account.name or ""))

            try:
                await self._in(ConversationReference().deserialize(raw), logic)
            except Exception as exc:  # noqa: BLE001 - a departed member answers 404; anything else is unknown
                if _connector_status(exc) != 404:
                    log.warning("looking up a Teams member in their personal chat failed: %s", type(exc).__name__)
                    ok = False
                continue
            people[external_id] = found[0]
        return ok


def is_refusal(message: Message) -> bool:
    """The core's error_message(): one paragraph starting with the warning sign."""
    first = message.blocks[0] if message.blocks else None
    return len(message.blocks) == 1 and isinstance(first, Paragraph) and bool(first.parts) and first.parts[0] == "⚠️ "


class TeamsResponder:
    """Answers go into the conversation the activity came from; updates replace the card that was clicked.

    In a channel or group chat, what concerns only the person who acted goes to their 1:1 chat
    with the bot instead (Teams has no messages only one person sees): refusals and forms. A
    submitted form is replaced by its confirmation, so it cannot be submitted twice.
    """

    def __init__(self, turn_context: TurnContext, handle: MessageHandle | None = None, *, adapter: TeamsAdapter | None = None,
                 actor: UserRef | None = None, replace_form: bool = False):
        self.turn_context = turn_context
        self.handle = handle
        shared = translate.conversation_kind(turn_context.activity) != "personal"
        self.private_to = actor if shared and adapter is not None else None
        self.adapter = adapter
        self.form_handle = MessageHandle(translate.PLATFORM, turn_context.activity.conversation.id, turn_context.activity.reply_to_id) \
            if replace_form and turn_context.activity.reply_to_id else None

    async def _private(self, activity: Activity) -> bool:
        if self.private_to is None:
            return False
        try:
            await self.adapter.send_activity(DirectMessage(self.private_to), activity)
            return True
        except Exception as exc:  # noqa: BLE001 - no 1:1 chat possible: say it where they are, minimally
            log.info("could not answer a Teams user privately (%s); answering in the conversation", type(exc).__name__)
            return False

    async def reply(self, message: Message) -> None:
        if is_refusal(message):
            if await self._private(_activity(message)):
                return
            if self.private_to is not None:  # in the channel: nothing that reveals what was refused
                message = Message(summary="I couldn't do that", blocks=(Paragraph(("⚠️ I couldn't do that; I've tried to tell you why in our 1:1 chat.",)),))
        elif self.form_handle is not None:
            handle, self.form_handle = self.form_handle, None
            try:
                await self._update(handle, message)  # the form becomes its confirmation: no second submit
                return
            except Exception as exc:  # noqa: BLE001 - the confirmation still gets through as a new message
                log.info("could not replace a submitted Teams form (%s); replying instead", type(exc).__name__)
        with outbound_call("teams", "send_activity", _connector_status):
            await self.turn_context.send_activity(_activity(message))

    async def open_form(self, form: Form) -> None:
        activity = _to_activity(render.form_payload(form))
        if await self._private(activity):
            return
        with outbound_call("teams", "send_activity", _connector_status):
            await self.turn_context.send_activity(activity)

    async def _update(self, handle: MessageHandle, message: Message) -> None:
        activity = _activity(message)
        activity.id = handle.message_id
        with outbound_call("teams", "update_activity", _connector_status):
            await self.turn_context.update_activity(activity)

    async def update(self, message: Message) -> None:
        if self.handle is None:
            await self.reply(message)
            return
        await self._update(self.handle, message)

    async def form_errors(self, errors: dict[str, str]) -> None:
        await self.reply(error_message(" ".join(errors.values())))


class TeamsBot(ActivityHandler):
    def __init__(self, core: PulseBridge):
        self.core = core

    async def on_turn(self, turn_context: TurnContext) -> None:
        if await self._remember(turn_context):
            await self._learn_roster(turn_context)
        await super().on_turn(turn_context)

    async def _learn_roster(self, turn_context: TurnContext) -> None:
        """First contact with a team or group chat: store its members at once, so pickers and pulses
        know them before the nightly directory sync. A failure only waits for that sync."""
        people: list[Profile] = []
        try:
            token = None
            while True:
                with outbound_call("teams", "get_paged_members", _connector_status):
                    page = await TeamsInfo.get_paged_members(turn_context, token, MEMBERS_PAGE)
                people.extend(translate.profile(m, m.id, m.name or "") for m in page.members or [] if m.id)
                token = page.continuation_token
                if not token:
                    break
        except Exception as exc:  # noqa: BLE001 - the turn itself must go on
            log.warning("listing the members of a new Teams conversation failed: %s", type(exc).__name__)
            return
        await in_db_thread(self.core.engine, "teams", _store_profiles, self.core.engine, people)
        log.info("learned %d member(s) of a new Teams conversation", len(people))

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        """Installed (the bot is among membersAdded): one welcome per conversation, however often
        Teams redelivers the event or the app is reinstalled (the outbox key is the conversation)."""
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if not any(m.id == bot_id for m in activity.members_added or []):
            return
        conversation_id = activity.conversation.id.split(";", 1)[0]
        welcome = self.core.help_message()
        welcome = Message(
            summary="Thanks for adding pulsebridge! " + welcome.summary,
            blocks=(Paragraph(("👋 Thanks for adding me! I help your team recognise each other and stay healthy.",)), *welcome.blocks),
        )
        await self.core.outbox.deliver([Outbound(f"teams:welcome:{conversation_id}", ChannelPost(translate.PLATFORM, conversation_id), welcome)])

    async def _remember(self, turn_context: TurnContext) -> bool:
        """Keep the ConversationReference of every conversation the bot hears from, for proactive messages.

        Returns True the first time a team channel or group chat is heard from (its members are
        then worth listing). A channel thread ("19:…;messageid=…") also stores its channel's reference."""
        activity = turn_context.activity
        if not activity.conversation or not activity.conversation.id or not activity.service_url:
            return False
        kind = translate.conversation_kind(activity)
        reference = TurnContext.get_conversation_reference(activity)
        # botbuilder reads the tenant from "tenantID" while Teams sends conversation.tenantId and
        # channelData.tenant.id: keep it on the reference (new 1:1 chats and searches need it).
        if reference.conversation is not None and not reference.conversation.tenant_id:
            reference.conversation.tenant_id = search.tenant_of(activity)
        sender = activity.from_property
        personal_sender = Profile(translate.PLATFORM, sender.id, sender.name or "") if kind == "personal" and sender and sender.id else None
        channel = None
        base_id = activity.conversation.id.split(";", 1)[0]
        if base_id != activity.conversation.id:
            channel = reference.serialize()
            channel["conversation"] = {**channel.get("conversation", {}), "id": base_id}
        return await in_db_thread(
            self.core.engine, "teams", _remember_conversation, self.core.engine, activity.conversation.id, kind, reference.serialize(), personal_sender, channel
        )

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name == search.INVOKE_NAME:
            body = await in_db_thread(self.core.engine, "teams", search.answer, self.core.engine, self.core.settings.teams_tenants, activity)
            return InvokeResponse(status=200, body=body)
        return await super().on_invoke_activity(turn_context)

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
            responder = TeamsResponder(
                turn_context,
                event.message if isinstance(event, ActionInvoked) else None,
                adapter=self.core.adapters.get(translate.PLATFORM),
                actor=event.actor,
                replace_form=not isinstance(event, ActionInvoked),
            )
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
        cmd = translate.command(activity, actor, tuple(mentioned), (*self.core.commands, "help"))
        responder = TeamsResponder(turn_context, adapter=self.core.adapters.get(translate.PLATFORM), actor=cmd.actor if cmd else None)
        if cmd is None:
            await responder.reply(self.core.help_message())
            return
        await self.core.handle_command(cmd, responder)


# -- the database work of the Teams adapter, on the `in_db_thread` pool kept for it: turns and
# sends run on the HTTP loop (botbuilder's turn contexts live there), which never waits on a query.
def _stored_reference(engine, conversation_id: str) -> tuple[dict | None, dict | None]:
    with session(engine) as s:
        stored = conversation(s, translate.PLATFORM, conversation_id)
        base = stored or latest_conversation(s, translate.PLATFORM)
        return (stored.reference if stored else None), (base.reference if base else None)


def _personal_reference(engine, external_id: str) -> tuple[int | None, dict | None, dict | None]:
    with session(engine) as s:
        user = find_user(s, translate.PLATFORM, external_id)
        stored = personal_conversation(s, user.id) if user else None
        base = latest_conversation(s, translate.PLATFORM, user.id if user else None)
        return (user.id if user else None), (stored.reference if stored else None), (base.reference if base else None)


def _save_reference(engine, conversation_id: str, kind: str, reference: dict, user_id: int | None) -> None:
    with write_unit(engine) as s:
        save_conversation_ref(s, platform=translate.PLATFORM, conversation_id=conversation_id, kind=kind, reference=reference, user_id=user_id)


def _remember_conversation(engine, conversation_id: str, kind: str, reference: dict, sender: Profile | None, channel: dict | None) -> bool:
    """Store the reference (and the 1:1 sender's profile); True for a team or group chat heard from the first time."""
    with write_unit(engine) as s:
        user_id = None
        if sender is not None:
            user = find_user(s, translate.PLATFORM, sender.external_id) or store_profile(s, sender)
            user_id = user.id
        base_id = conversation_id.split(";", 1)[0]
        first = kind != "personal" and conversation(s, translate.PLATFORM, base_id) is None
        save_conversation_ref(s, platform=translate.PLATFORM, conversation_id=conversation_id, kind=kind, reference=reference, user_id=user_id)
        if channel is not None:
            save_conversation_ref(s, platform=translate.PLATFORM, conversation_id=base_id, kind=kind, reference=channel)
    return first


def _store_profiles(engine, people: list[Profile]) -> None:
    with write_unit(engine) as s:
        for person in people:
            store_profile(s, person)


def _shared_references(engine) -> list[dict]:
    with session(engine) as s:
        return [ref.reference for ref in shared_conversations(s, translate.PLATFORM)]


def _personal_references(engine) -> list[tuple[str, dict]]:
    with session(engine) as s:
        return list(personal_conversations(s, translate.PLATFORM))


def _shape_error(body: object) -> str | None:
    """What botbuilder and our handlers rely on, checked before anything runs: a clear 400 otherwise."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), str) or not body["type"]:
        return "activity must be a JSON object with a 'type'"
    if not isinstance(body.get("serviceUrl"), str):
        return "activity must name its serviceUrl"
    for field in ("conversation", "from", "recipient"):
        value = body.get(field)
        if field == "recipient" and value is None:
            continue
        if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
            return f"activity.{field} must be an object with an 'id'"
        if "name" in value and not isinstance(value["name"], str | None):
            return f"activity.{field}.name must be a string"
    for field in ("text", "id", "replyToId", "channelId"):
        if field in body and not isinstance(body[field], str | None):
            return f"activity.{field} must be a string"
    if "entities" in body:
        entities = body["entities"]
        if not isinstance(entities, list | None) or any(not isinstance(e, dict) for e in entities or []):
            return "activity.entities must be a list of objects"
        for e in entities or []:
            if e.get("type") == "mention":
                mentioned = e.get("mentioned")
                if not isinstance(mentioned, dict) or not isinstance(mentioned.get("id"), str) or not isinstance(e.get("text"), str):
                    return "a mention needs 'text' and 'mentioned.id'"
                if not isinstance(mentioned.get("name"), str | None):
                    return "a mention's name must be a string"
    if "channelData" in body and not isinstance(body["channelData"], dict | None):
        return "activity.channelData must be an object"
    return None


def http_handler(cloud: CloudAdapter, bot: TeamsBot):
    """POST /api/messages: shape check (400), then GuardedAuthentication (401/403), then the turn."""

    async def handle(request: web.Request) -> web.Response:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected Content-Type: application/json"}, status=415)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not valid JSON"}, status=400)
        problem = _shape_error(body)
        if problem is None:
            try:
                activity = Activity().deserialize(body)
            except Exception:  # noqa: BLE001 - msrest's DeserializationError and friends: the sender's fault
                problem = "activity could not be read"
        if problem is not None:
            return web.json_response({"error": problem}, status=400)
        try:
            invoke = await cloud.process_activity(request.headers.get("Authorization", ""), activity, bot.on_turn)
        except Refused as refused:
            return web.json_response({"error": refused.reason}, status=refused.status)
        if invoke:
            body = invoke.body if isinstance(invoke.body, dict | list | None) else serializer_helper(invoke.body)
            return web.json_response(body, status=invoke.status)
        return web.Response(status=201)

    return handle
