"""Peer recognition: `/kudos @alice @bob for rescuing the Acme renewal #customer-first`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from bot.directory import resolve_profiles, store_profile, user_ref
from bot.errors import UserFacingError
from bot.events import CommandInvoked, MentionToken, Token
from bot.messages import Context, Mention, Message, Paragraph, Quote, UserRef, join_mentions
from bot.orgconfig import OrgConfig
from bot.ports import ChannelPost, ChatAdapter, DirectMessage, Outbound
from bot.text import clean
from storage.db import session
from storage.deliveries import claim_inbound
from storage.directory import team_channel, teams_of
from storage.kudos import insert_kudos, kudos_by_source, recipients_of, values_of
from storage.tables import Kudos, User

MAX_REASON = 1500
MAX_RECIPIENTS = 10
USAGE = "Usage: /kudos @name [@name …] for <what they did> [#value]"

_SEPARATORS = re.compile(r"^[\s,;&]*(?:and[\s,]*)*[\s,;&]*$", re.IGNORECASE)
_LEAD_IN = re.compile(r"^[\s,;&]*(?:and\b)?\s*(?:for\b|[:\-–—])?\s*", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<![\w&#/])#([A-Za-z0-9][\w-]*)")
_TRAILING_TAGS = re.compile(r"(?:\s*#[A-Za-z0-9][\w-]*)+\s*$")


@dataclass(frozen=True)
class KudosRequest:
    recipients: tuple[UserRef, ...]
    reason: str
    values: tuple[str, ...]


def parse(cmd: CommandInvoked, org: OrgConfig) -> KudosRequest:
    """Leading mentions are the recipients; everything after them is the reason."""
    recipients: list[UserRef] = []
    reason_parts: list[str] = []
    in_reason = False
    for part in cmd.parts:
        if not in_reason:
            if isinstance(part, MentionToken):
                recipients.append(part.user)
                continue
            if _SEPARATORS.match(part.text):
                continue
            in_reason = True
        if isinstance(part, MentionToken):
            reason_parts.append("@" + (part.user.display_name or part.user.external_id))
        else:
            reason_parts.append(part.text)

    if not recipients:
        raise UserFacingError(f"Who should get the kudos? Mention at least one person. {USAGE}")
    unique = list({r.external_id: r for r in recipients}.values())
    if len(unique) > MAX_RECIPIENTS:
        raise UserFacingError(f"Kudos can go to at most {MAX_RECIPIENTS} people at once; you mentioned {len(unique)}.")

    reason = clean(_LEAD_IN.sub("", "".join(reason_parts), count=1))
    tags = [t.lower() for t in _HASHTAG.findall(reason)]
    values: list[str] = []
    if org.values:
        unknown = [t for t in dict.fromkeys(tags) if t not in org.values]
        if unknown:
            valid = ", ".join("#" + v for v in org.values)
            raise UserFacingError(f"Unknown value {', '.join('#' + t for t in unknown)}. Valid values: {valid}.")
        values = list(dict.fromkeys(tags))
        reason = _TRAILING_TAGS.sub("", reason).strip()
    if not reason:
        raise UserFacingError(f"Please say what the kudos is for. {USAGE}")
    if len(reason) > MAX_REASON:
        raise UserFacingError(
            f"That reason is {len(reason):,} characters; please keep it under {MAX_REASON:,}. Nothing was sent."
        )
    return KudosRequest(tuple(unique), reason, tuple(values))


def _value_context(values: list[str]) -> tuple[Context, ...]:
    return (Context((" ".join("#" + v for v in values),)),) if values else ()


def _messages(kudos: Kudos, giver: User, recipients: list[User], values: list[str], channels: list[ChannelPost]) -> tuple[Message, list[Outbound]]:
    giver_ref = user_ref(giver)
    refs = [user_ref(u) for u in recipients]
    names = ", ".join(r.display_name or r.external_id for r in refs)
    extra = _value_context(values)
    confirmation = Message(
        summary=f"Kudos sent to {names}",
        blocks=(Paragraph(("🙌 Kudos sent to ", *join_mentions(refs), ".")), Quote(kudos.reason), *extra),
    )
    out: list[Outbound] = []
    for user in recipients:
        out.append(
            Outbound(
                key=f"kudos:{kudos.id}:dm:{user.id}",
                destination=DirectMessage(user_ref(user)),
                message=Message(
                    summary=f"{giver.display_name} gave you kudos",
                    blocks=(Paragraph((Mention(giver_ref), " gave you kudos! 🎉")), Quote(kudos.reason), *extra),
                ),
            )
        )
    celebration = Message(
        summary=f"{giver.display_name} gave kudos to {names}",
        blocks=(Paragraph(("🎉 ", Mention(giver_ref), " recognised ", *join_mentions(refs), ":")), Quote(kudos.reason), *extra),
    )
    for channel in channels:
        out.append(Outbound(key=f"kudos:{kudos.id}:channel:{channel.channel_id}", destination=channel, message=celebration))
    return confirmation, out


def _team_channels(s, platform: str, recipients: list[User]) -> list[ChannelPost]:
    channels: dict[str, ChannelPost] = {}
    for user in recipients:
        for team in teams_of(s, user):
            channel = team_channel(team, platform)
            if channel:
                channels.setdefault(channel, ChannelPost(platform, channel))
    return list(channels.values())


def _replay(s, kudos: Kudos) -> tuple[Message, list[Outbound]]:
    giver = s.get(User, kudos.giver_id)
    recipients = recipients_of(s, kudos.id)
    return _messages(kudos, giver, recipients, values_of(s, kudos.id), _team_channels(s, kudos.platform, recipients))


async def give(engine: Engine, adapter: ChatAdapter, org: OrgConfig, cmd: CommandInvoked) -> tuple[Message, list[Outbound]]:
    """Store a kudos once per delivery and return the giver's confirmation and the messages to send.

    A redelivered command returns the messages of the stored kudos again; the outbox then sends
    only those that did not go out the first time.
    """
    with session(engine) as s:
        existing = kudos_by_source(s, cmd.delivery_key)
        if existing is not None:
            return _replay(s, existing)

    request = parse(cmd, org)
    given = {p.external_id: p for p in (*cmd.mentioned_profiles, *((cmd.actor_profile,) if cmd.actor_profile else ()))}
    profiles = await resolve_profiles(engine, adapter, [cmd.actor, *request.recipients], given)

    actor_profile = profiles.get(cmd.actor.external_id)
    if actor_profile is None:
        raise UserFacingError("I couldn't look up your profile on this workspace; please try again in a minute.")
    missing = [r for r in request.recipients if profiles.get(r.external_id) is None or profiles[r.external_id].deleted]
    if missing:
        who = ", ".join("@" + (r.display_name or r.external_id) for r in missing)
        raise UserFacingError(f"I couldn't find {who} in this workspace. Nothing was sent.")
    bots = [profiles[r.external_id] for r in request.recipients if profiles[r.external_id].is_bot]
    if bots:
        raise UserFacingError(f"{bots[0].display_name} is a bot; kudos are for people. Nothing was sent.")
    if any(r.external_id == cmd.actor.external_id for r in request.recipients):
        raise UserFacingError("You can't give kudos to yourself, but it's good to be proud of your work! Nothing was sent.")

    with session(engine) as s, s.begin():
        if not claim_inbound(s, cmd.delivery_key):
            existing = kudos_by_source(s, cmd.delivery_key)
            if existing is None:
                raise UserFacingError("This request was already handled.")
            return _replay(s, existing)
        giver = store_profile(s, actor_profile)
        recipients = [store_profile(s, profiles[r.external_id]) for r in request.recipients]
        kudos = insert_kudos(
            s,
            giver_id=giver.id,
            recipient_ids=[u.id for u in recipients],
            reason=request.reason,
            values=list(request.values),
            platform=cmd.platform,
            source_key=cmd.delivery_key,
        )
        return _messages(kudos, giver, recipients, list(request.values), _team_channels(s, cmd.platform, recipients))


async def on_command(core, cmd: CommandInvoked):
    from bot.core import Outcome

    if not cmd.raw_text:
        return Outcome(reply=Message(summary=USAGE, blocks=(Paragraph((USAGE,)),)))
    reply, followups = await give(core.engine, core.adapters[cmd.platform], core.org, cmd)
    return Outcome(reply=reply, followups=followups)


def register(core) -> None:
    core.command("kudos", "thank colleagues for what they did", USAGE, on_command)
