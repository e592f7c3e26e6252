"""Entry points the server, the CLI and the core call: receive a webhook, act on a triage pick."""

from __future__ import annotations

import logging
from typing import Any

from bot.directory.lookup import resolve_profiles, store_profile
from bot.kernel.errors import UserFacingError
from bot.kernel.events import ActionInvoked
from bot.feedback.config import FeedbackConfig
from bot.feedback.record import FeedbackRecord
from bot.feedback.relay import ROUTE_ACTION, Ingested, ingest, relay_messages, relay_to, routed_message
from bot.kernel.messages import Message, Paragraph, UserRef
from bot.kernel.ports import ref_to_handle
from storage.kernel.db import in_db_thread, session, write_unit
from storage.kernel.deliveries import claim_inbound
from storage.feedback.queries import claim_triage, sent_refs, team_people_on
from storage.feedback.tables import Feedback
from bot.kernel.core import Outcome

log = logging.getLogger(__name__)


def config_of(core) -> FeedbackConfig:
    return core.org.feedback


async def receive(core, record: FeedbackRecord, raw: dict[str, Any]) -> Ingested:
    """Store a webhook's feedback once and send what it calls for (again only what is still unsent).

    The write (routing and sentiment scoring included) runs on the threads kept for it, off the
    HTTP loop that called: a burst of webhooks never holds up other requests' acks."""
    result = await in_db_thread(core.engine, "feedback", _ingest, core, record, raw)
    if result.outbound:
        await core.outbox.deliver(result.outbound)
    return result


def _ingest(core, record: FeedbackRecord, raw: dict[str, Any]) -> Ingested:
    with write_unit(core.engine) as s:
        return ingest(s, record, raw, config_of(core), now=core.clock(), platforms=tuple(core.adapters), live=True)


def _feedback_id(action: ActionInvoked) -> int:
    _, _, raw = action.action_id.partition(":")
    if not raw.isdigit():
        raise UserFacingError("That picker is no longer active.")
    return int(raw)


def _base_conversation(conversation_id: str) -> str:
    """Teams names a channel thread `19:…@thread.tacv2;messageid=…`: the channel is the part before."""
    return conversation_id.split(";messageid=", 1)[0]


def from_triage_post(core, action: ActionInvoked, feedback_id: int) -> bool:
    """Did this click come from the very triage post the bot sent for this feedback on this platform?

    Feedback ids are sequential and card values are the sender's to write, so the action id alone
    proves nothing; the message the platform says was clicked must be the one we stored when the
    triage post went out (outbox key feedback:<id>:triage:<platform>).
    """
    handle = action.message
    if handle is None or action.platform not in config_of(core).triage_channels:
        return False
    with session(core.engine) as s:
        stored = sent_refs(s, [f"feedback:{feedback_id}:triage:{action.platform}"])
    if not stored:
        return False
    [(platform, ref)] = stored.values()
    posted = ref_to_handle(platform, ref)
    return (
        platform == action.platform
        and bool(handle.message_id)
        and handle.message_id == posted.message_id
        and _base_conversation(handle.conversation_id) == _base_conversation(posted.conversation_id)
    )


async def may_triage(core, action: ActionInvoked, actor) -> bool:
    """The configured triagers when there are any, else the members of the triage channel.

    Slack shows public channels (and their buttons) to anyone in the workspace, so membership is
    asked of Slack. Teams delivers a channel card's submission only from members of that channel,
    and `from_triage_post` has already tied the click to it.
    """
    config = config_of(core)
    if config.triagers:
        idents = {f"{action.platform}:{action.actor.external_id}"} | ({actor.email.lower()} if actor and actor.email else set())
        return bool(idents & set(config.triagers))
    channel = config.triage_channels.get(action.platform)
    members = getattr(core.adapters[action.platform], "channel_members", None)
    if channel is None:
        return False
    if members is None:
        return True
    try:
        return action.actor.external_id in await members(channel)
    except Exception as exc:  # noqa: BLE001 - membership unknown: refuse rather than guess
        log.warning("could not list the members of triage channel %s: %s", channel, exc)
        return False


async def on_route(core, action: ActionInvoked):
    """Someone in the triage channel picked who earned the praise: the first pick wins and is recorded."""
    feedback_id = _feedback_id(action)
    picked = (action.value or "").strip()
    if not picked:
        raise UserFacingError("Pick the person who earned this praise first.")
    if not from_triage_post(core, action, feedback_id):
        log.warning("refused triage pick for feedback %s by %s:%s: not from its triage post", feedback_id, action.platform, action.actor.external_id)
        raise UserFacingError("That picker is no longer active. Nothing was sent.")
    adapter = core.adapters[action.platform]
    given = {action.actor_profile.external_id: action.actor_profile} if action.actor_profile else {}
    actor = (await resolve_profiles(core.engine, adapter, [action.actor], given)).get(action.actor.external_id)
    if actor is None:
        raise UserFacingError("I couldn't look up your profile on this workspace; please try again in a minute.")
    if not await may_triage(core, action, actor):
        log.warning("refused triage pick for feedback %s by %s:%s: not a triager", feedback_id, action.platform, action.actor.external_id)
        raise UserFacingError("Only the people who triage customer praise can route it. Nothing was sent.")
    if action.platform == "teams":  # the card offered a fixed list; anything else is a forged value
        with session(core.engine) as s:
            allowed = {u.external_id for u in team_people_on(s, action.platform)}
        if picked not in allowed:
            raise UserFacingError("I couldn't find that person in this workspace. Nothing was sent.")
    target = (await resolve_profiles(core.engine, adapter, [UserRef(action.platform, picked)], {})).get(picked)
    if target is None or target.deleted:
        raise UserFacingError("I couldn't find that person in this workspace. Nothing was sent.")
    if target.is_bot:
        raise UserFacingError(f"{target.display_name} is a bot; customer kudos are for people. Nothing was sent.")

    config = config_of(core)
    with write_unit(core.engine) as s:
        if not claim_inbound(s, action.delivery_key):
            return Outcome()
        row = s.get(Feedback, feedback_id)
        if row is None:
            raise UserFacingError("That feedback no longer exists.")
        recipient = store_profile(s, target)
        router = store_profile(s, actor)
        if not claim_triage(s, row.id, user_id=recipient.id, routed_by=router.id, detail=f"picked by {router.display_name}"):
            raise UserFacingError("Someone already routed this praise; nothing more was sent.")
        s.refresh(row)
        relay_to(s, row, recipient, config)
        followups = relay_messages(s, row, config)
        update = routed_message(row, recipient, router, config)
        others = {
            key: ref
            for key, ref in sent_refs(s, [f"feedback:{row.id}:triage:{p}" for p in config.triage_channels]).items()
            if ref[0] != action.platform
        }
    for platform, ref in others.values():
        try:
            await core.adapters[platform].update(ref_to_handle(platform, ref), update)
        except Exception as exc:  # noqa: BLE001 - the other platform's stale post must not undo the routing
            log.warning("could not update the %s triage post for feedback %s: %s", platform, feedback_id, exc)
    reply = Message(summary=f"Sent to {recipient.display_name}", blocks=(Paragraph((f"Thanks! I sent the praise to {recipient.display_name}.",)),))
    return Outcome(update=update, reply=reply, followups=followups)


def register(core) -> None:
    core.action(ROUTE_ACTION, on_route)
