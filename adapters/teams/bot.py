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
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    Mention,
)

from adapters.teams import msrest_retry, render, search, translate
from adapters.teams.security import GuardedAuthentication, Refused, ServiceUrls
from bot.kernel.core import Busy, PulseBridge, error_message
from bot.directory.lookup import store_profile
from bot.kernel.events import ActionInvoked, CommandInvoked, FormSubmitted, MessageHandle, Profile
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
        if context.activity.type == ActivityTypes.message:
            # A message's turn only records it (TeamsBot.on_turn): when that failed nothing was
            # accepted, so Teams must hear a 5xx and retry, not get a 201 and an apology.
            raise error
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

    async def _send_in(self, reference: ConversationReference, activity: Activity, *, as_reply: bool = False) -> MessageHandle:
        """Send in `reference`'s conversation; `as_reply`, under the activity the reference was taken
        from (else the send goes under the made-up id botbuilder gives a proactive turn)."""
        sent: dict[str, str] = {}

        async def logic(context: TurnContext) -> None:
            if as_reply:
                context.activity.id = reference.activity_id
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

    async def reply_to(self, reference: ConversationReference, activity: Activity) -> None:
        """Answer the activity `reference` was taken from, in its conversation and under it, as its own turn would have."""
        await self._send_in(reference, activity, as_reply=True)

    async def update_in(self, reference: ConversationReference, activity: Activity) -> None:
        """Replace the message `activity.id` in the conversation of `reference`."""

        async def logic(context: TurnContext) -> None:
            with outbound_call("teams", "update_activity", _connector_status):
                await context.update_activity(activity)

        await self._in(reference, logic)

    def responder(self, state: dict, event: object) -> TeamsResponder:
        """Answers for an accepted message activity (TeamsBot.on_turn), from what was stored with it:
        the activity's conversation reference and, for a submitted form, the card to replace."""
        form_card = state.get("card") if isinstance(event, FormSubmitted) else None
        return TeamsResponder(
            self.core.adapters[self.platform],  # the core's registration: its calls run on the HTTP loop
            ConversationReference().deserialize(state["reference"]),
            event.message if isinstance(event, ActionInvoked) else None,
            actor=getattr(event, "actor", None),
            form_card=form_card,
        )

    async def complete(self, event: CommandInvoked | ActionInvoked | FormSubmitted, state: dict):
        """What an accepted message activity still needs from Teams, done on its worker after the ack
        (PulseBridge._process): its conversation remembered (and a new team's members listed), and the
        members it names looked up, emails included. Teams answers member look-ups only inside a
        conversation, so they run in a proactive turn in the activity's own; a failed look-up leaves
        the name the activity carried, as it did when the look-ups held up the HTTP answer."""
        reference = ConversationReference().deserialize(state["reference"])
        try:
            first = await _remember(self.core.engine, reference)
        except Exception as exc:  # noqa: BLE001 - the answer goes out through the stored reference anyway
            log.warning("remembering a Teams conversation failed: %s", type(exc).__name__)
            first = False
        found: dict[str, Profile] = {}

        async def logic(context: TurnContext) -> None:
            # A proactive turn carries no channel data; TeamsInfo asks the team's roster when it names one.
            context.activity.channel_data = dict(state.get("channel_data") or {})
            if first:
                await _learn_roster(self.core.engine, context)
            for member_id, name in translate.members(event):
                if member_id not in found:
                    found[member_id] = await _member(context, member_id, name)

        try:
            await self._in(reference, logic)
        except Exception as exc:  # noqa: BLE001 - answered with the activity's names rather than not at all
            log.info("Teams member look-ups failed: %s", type(exc).__name__)
        return translate.with_profiles(event, found)

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
        await self.update_in(await self._reference_for(handle.conversation_id), activity)

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
        # each accepted activity (TeamsAdapter.complete) rather than through this call.
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
    """Answers go into the conversation the activity came from, under it; updates replace the card that was clicked.

    In a channel or group chat, what concerns only the person who acted goes to their 1:1 chat
    with the bot instead (Teams has no messages only one person sees): refusals and forms. A
    submitted form is replaced by its confirmation, so it cannot be submitted twice.

    Built on a worker after the HTTP answer (TeamsAdapter.responder), from the activity's stored
    conversation reference: every send is a proactive turn through `adapter`, the core's
    registration, so it runs on the HTTP loop like the adapter's own sends.
    """

    def __init__(self, adapter: TeamsAdapter, reference: ConversationReference, handle: MessageHandle | None = None, *,
                 actor: UserRef | None = None, form_card: str | None = None):
        self.adapter = adapter
        self.reference = reference
        self.handle = handle
        self.private_to = actor if translate.kind_of(reference.conversation) != "personal" else None
        self.form_handle = MessageHandle(translate.PLATFORM, reference.conversation.id, form_card) if form_card else None

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
        await self.adapter.reply_to(self.reference, _activity(message))

    async def open_form(self, form: Form) -> None:
        activity = _to_activity(render.form_payload(form))
        if await self._private(activity):
            return
        await self.adapter.reply_to(self.reference, activity)

    async def _update(self, handle: MessageHandle, message: Message) -> None:
        activity = _activity(message)
        activity.id = handle.message_id
        await self.adapter.update_in(self.reference, activity)

    async def update(self, message: Message) -> None:
        if self.handle is None:
            await self.reply(message)
            return
        await self._update(self.handle, message)

    async def form_errors(self, errors: dict[str, str]) -> None:
        await self.reply(error_message(" ".join(errors.values())))


def _answer_state(activity: Activity) -> dict:
    """What TeamsAdapter.responder and .complete need to finish an accepted activity later, on a worker
    or after a restart (stored with it, sealed): where to answer, the team whose roster answers member
    look-ups, and the card a submitted form came from."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    team = data.get("team") if isinstance(data.get("team"), dict) else None
    return {"reference": _reference_of(activity).serialize(), "channel_data": {"team": team} if team else {}, "card": activity.reply_to_id}


def _reference_of(activity: Activity) -> ConversationReference:
    reference = TurnContext.get_conversation_reference(activity)
    # botbuilder reads the tenant from "tenantID" while Teams sends conversation.tenantId and
    # channelData.tenant.id: keep it on the reference (new 1:1 chats and searches need it).
    if reference.conversation is not None and not reference.conversation.tenant_id:
        reference.conversation.tenant_id = search.tenant_of(activity)
    return reference


async def _remember(engine, reference: ConversationReference) -> bool:
    """Keep the ConversationReference of every conversation the bot hears from, for proactive messages.

    Returns True the first time a team channel or group chat is heard from (its members are
    then worth listing). A channel thread ("19:…;messageid=…") also stores its channel's reference."""
    conversation = reference.conversation
    if not conversation or not conversation.id or not reference.service_url:
        return False
    kind = translate.kind_of(conversation)
    sender = reference.user
    personal_sender = Profile(translate.PLATFORM, sender.id, sender.name or "") if kind == "personal" and sender and sender.id else None
    channel = None
    base_id = conversation.id.split(";", 1)[0]
    if base_id != conversation.id:
        channel = reference.serialize()
        channel["conversation"] = {**channel.get("conversation", {}), "id": base_id}
    return await in_db_thread(engine, "teams", _remember_conversation, engine, conversation.id, kind, reference.serialize(), personal_sender, channel)


async def _learn_roster(engine, turn_context: TurnContext) -> None:
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
    await in_db_thread(engine, "teams", _store_profiles, engine, people)
    log.info("learned %d member(s) of a new Teams conversation", len(people))


async def _member(turn_context: TurnContext, member_id: str, name: str) -> Profile:
    try:
        with outbound_call("teams", "get_member", _connector_status):
            account = await TeamsInfo.get_member(turn_context, member_id)
    except Exception as exc:  # noqa: BLE001 - an unreachable roster must not block the command
        log.info("Teams member look-up for %s failed: %s", member_id, exc)
        account = None
    return translate.profile(account, member_id, name)


class TeamsBot(ActivityHandler):
    def __init__(self, core: PulseBridge):
        self.core = core

    async def on_turn(self, turn_context: TurnContext) -> None:
        if turn_context.activity.type == ActivityTypes.message and await self._accept(turn_context):
            return
        if await _remember(self.core.engine, _reference_of(turn_context.activity)):
            await _learn_roster(self.core.engine, turn_context)
        await super().on_turn(turn_context)

    async def _accept(self, turn_context: TurnContext) -> bool:
        """A command or card submission is recorded (PulseBridge.accept) and the HTTP answer goes out:
        the member look-ups, the handler and the replies follow on a worker (TeamsAdapter.complete and
        .responder), so a crash after the 201 loses nothing and a redelivery is processed once.
        False for a message that is not for us: nothing was recorded."""
        activity = turn_context.activity
        sender = activity.from_property
        actor = translate.profile(None, sender.id, sender.name or "")
        if activity.value and not activity.text:
            event = translate.submission(activity, actor)
            if event is None:
                return False
            kind = "action" if isinstance(event, ActionInvoked) else "form"
        elif activity.text:
            bot_id = activity.recipient.id if activity.recipient else None
            mentioned = tuple(
                translate.profile(None, e["mentioned"]["id"], e["mentioned"].get("name") or "") for e in translate.mentions(activity) if e["mentioned"]["id"] != bot_id
            )
            event = translate.command(activity, actor, mentioned, (*self.core.commands, "help")) or translate.chatter(activity, actor)
            kind = "command"
        else:
            return False
        await self.core.accept(kind, event, _answer_state(activity))  # Busy: http_handler answers 503
        return True

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

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name == search.INVOKE_NAME:
            body = await in_db_thread(self.core.engine, "teams", search.answer, self.core.engine, self.core.settings.teams_tenants, activity)
            return InvokeResponse(status=200, body=body)
        return await super().on_invoke_activity(turn_context)


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
    """POST /api/messages: shape check (400), then GuardedAuthentication (401/403), then the turn: for
    a message, only until it is recorded (201; 503 when the core is busy); an invoke's answer is its body."""

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
        except Busy as busy:
            # Not recorded, so not acknowledged: Teams redelivers the activity later.
            log.warning("refused a Teams activity: %s", busy)
            return web.json_response({"error": "busy, retry later"}, status=503, headers={"Retry-After": "5"})
        if invoke:
            body = invoke.body if isinstance(invoke.body, dict | list | None) else serializer_helper(invoke.body)
            return web.json_response(body, status=invoke.status)
        return web.Response(status=201)

    return handle
