"""Entry points the server, the CLI and the core call: receive a webhook, act on a triage pick."""

from __future__ import annotations

import logging
from typing import Any

from bot.directory import resolve_profiles, store_profile
from bot.errors import UserFacingError
from bot.events import ActionInvoked
from bot.feedback.config import FeedbackConfig
from bot.feedback.record import FeedbackRecord
from bot.feedback.relay import ROUTE_ACTION, Ingested, ingest, relay_messages, relay_to, routed_message
from bot.messages import Message, Paragraph, UserRef
from bot.ports import ref_to_handle
from storage.db import session, write_unit
from storage.deliveries import claim_inbound
from storage.feedback import claim_triage, sent_refs
from storage.feedback_tables import Feedback

log = logging.getLogger(__name__)


def config_of(core) -> FeedbackConfig:
    return core.org.feedback


async def receive(core, record: FeedbackRecord, raw: dict[str, Any]) -> Ingested:
    """Store a webhook's feedback once and send what it calls for (again only what is still unsent)."""
    with session(core.engine) as s, s.begin():
        result = ingest(s, record, raw, config_of(core), now=core.clock(), platforms=tuple(core.adapters), live=True)
    if result.outbound:
        await core.outbox.deliver(result.outbound)
    return result


def _feedback_id(action: ActionInvoked) -> int:
    _, _, raw = action.action_id.partition(":")
    if not raw.isdigit():
        raise UserFacingError("That picker is no longer active.")
    return int(raw)


async def on_route(core, action: ActionInvoked):
    """Someone in the triage channel picked who earned the praise: the first pick wins and is recorded."""
    from bot.core import Outcome

    feedback_id = _feedback_id(action)
    picked = (action.value or "").strip()
    if not picked:
        raise UserFacingError("Pick the person who earned this praise first.")
    adapter = core.adapters[action.platform]
    given = {action.actor_profile.external_id: action.actor_profile} if action.actor_profile else {}
    profiles = await resolve_profiles(core.engine, adapter, [action.actor, UserRef(action.platform, picked)], given)
    target, actor = profiles.get(picked), profiles.get(action.actor.external_id)
    if target is None or target.deleted:
        raise UserFacingError("I couldn't find that person in this workspace. Nothing was sent.")
    if target.is_bot:
        raise UserFacingError(f"{target.display_name} is a bot; customer kudos are for people. Nothing was sent.")
    if actor is None:
        raise UserFacingError("I couldn't look up your profile on this workspace; please try again in a minute.")

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
