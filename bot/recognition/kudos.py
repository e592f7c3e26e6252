"""Peer recognition: `/kudos @alice @bob for rescuing the Acme renewal #customer-first win:W-42 --private`.

`/kudos` alone opens a form (with a picker of recent customer wins), `/kudos stats` shows the
caller's own numbers, and `/kudos leaderboard` exists only when the config turns it on. The
rules (allowance, pair limit, required values, private kudos) are checked inside the same
transaction that stores the kudos, after the giver's user row is written: on PostgreSQL that row
lock serialises one giver's concurrent commands, so two quick commands cannot both slip under
the allowance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from bot.directory.lookup import resolve_profiles, store_profile, user_ref
from bot.kernel.errors import UserFacingError
from bot.kernel.events import ActionInvoked, CommandInvoked, FormSubmitted, MentionToken, Profile, Token
from bot.kernel.messages import Context, Form, Mention, Message, Paragraph, Quote, Select, Strong, TextInput, UserRef, UserSelect, join_mentions
from bot.kernel.orgconfig import OrgConfig
from bot.kernel.ports import ChannelPost, DirectMessage, Outbound
from bot.recognition.config import day_start, period_start, posts_per_kudos
from bot.kernel.text import clean
from bot.recognition.wins import GIVE_KUDOS_ACTION, find_win, outcome_blocks, parse_label
from storage.kernel.db import session, write_unit
from storage.kernel.deliveries import claim_inbound
from storage.directory.queries import find_user, identifiers_of, team_channel, teams_of
from storage.recognition.kudos import insert_kudos, kudos_by_source, recipients_of, values_of
from storage.recognition.queries import (
    kudos_context,
    leaderboard,
    pair_counts_since,
    personal_stats,
    recent_wins,
    recipients_given_since,
    set_kudos_context,
    visible_wins,
    win_by_id,
)
from storage.recognition.tables import Win
from storage.directory.tables import User
from storage.recognition.tables import Kudos
from bot.kernel.core import FormInvalid, Outcome

MAX_REASON = 1500
MAX_RECIPIENTS = 10
FORM_ID = "kudos.give"
USAGE = "Usage: /kudos @name [@name …] for <what they did> [#value] [win:W-42] [--private] · /kudos stats · /kudos (opens a form)"

_SEPARATORS = re.compile(r"^[\s,;&]*(?:and[\s,]*)*[\s,;&]*$", re.IGNORECASE)
_LEAD_IN = re.compile(r"^[\s,;&]*(?:and\b)?\s*(?:for\b|[:\-–—])?\s*", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<![\w&#/])#([A-Za-z0-9][\w-]*)")
_TRAILING_TAGS = re.compile(r"(?:\s*#[A-Za-z0-9][\w-]*)+\s*$")
# Slack and some keyboards turn "--" into an en or em dash; all three spellings mean the flag.
_PRIVATE = re.compile(r"(?<!\S)(?:--|—|–)private(?!\S)", re.IGNORECASE)
_WIN_REF = re.compile(r"(?<![\w/])win:\s*(W-?\d+\b|\d+\b|\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class KudosRequest:
    recipients: tuple[UserRef, ...]
    reason: str
    values: tuple[str, ...]
    win: str | None = None  # the label as typed ("W-42"); checked against the database when storing
    private: bool = False


def _check_values(tags: list[str], org: OrgConfig) -> list[str]:
    values = list(dict.fromkeys(tags))
    unknown = [t for t in values if t not in org.values]
    valid = ", ".join("#" + v for v in org.values)
    if unknown:
        raise UserFacingError(f"Unknown value {', '.join('#' + t for t in unknown)}. Valid values: {valid}.")
    if not values and org.recognition.values_required:
        raise UserFacingError(f"Please tag the kudos with at least one value: {valid}. Nothing was sent.")
    return values


def _check_reason(reason: str) -> None:
    if not reason:
        raise UserFacingError(f"Please say what the kudos is for. {USAGE}")
    if len(reason) > MAX_REASON:
        raise UserFacingError(
            f"That reason is {len(reason):,} characters; please keep it under {MAX_REASON:,}. Nothing was sent."
        )


def parse(cmd: CommandInvoked, org: OrgConfig) -> KudosRequest:
    """Leading mentions are the recipients; everything after them is the reason.

    `--private` and `win:W-42` may appear anywhere in the text; both are taken out of the reason.
    """
    recipients: list[UserRef] = []
    reason_parts: list[str] = []
    in_reason = False
    private = False
    for part in cmd.parts:
        if isinstance(part, Token) and _PRIVATE.search(part.text):
            private = True
            part = Token(_PRIVATE.sub(" ", part.text))
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

    text = "".join(reason_parts)
    wins = _WIN_REF.findall(text)
    if len(set(w.upper() for w in wins)) > 1:
        raise UserFacingError("A kudos can reference one customer win; you named " + ", ".join(dict.fromkeys(wins)) + ".")
    # Take the reference out without leaving a gap before punctuation: "the migration win:W-4." → "the migration."
    text = _WIN_REF.sub("\x00", text)
    text = re.sub(r"[ \t]*\x00[ \t]*(?=[.,;:!?]|$)", "", text)
    text = re.sub(r"[ \t]*\x00[ \t]*", " ", text)
    reason = clean(_LEAD_IN.sub("", text, count=1))
    if private and not org.recognition.private_kudos:
        raise UserFacingError("Private kudos are turned off in this workspace. Nothing was sent.")
    tags = [t.lower() for t in _HASHTAG.findall(reason)]
    values: list[str] = []
    if org.values:
        values = _check_values(tags, org)
        reason = _TRAILING_TAGS.sub("", reason).strip()
    _check_reason(reason)
    return KudosRequest(tuple(unique), reason, tuple(values), wins[0] if wins else None, private)


# -- messages -------------------------------------------------------------------------------------


def _value_context(values: list[str]) -> tuple[Context, ...]:
    return (Context((" ".join("#" + v for v in values),)),) if values else ()


def _messages(
    kudos: Kudos, giver: User, recipients: list[User], values: list[str], channels: list[ChannelPost], win: Win | None, private: bool
) -> tuple[Message, list[Outbound]]:
    giver_ref = user_ref(giver)
    refs = [user_ref(u) for u in recipients]
    names = ", ".join(r.display_name or r.external_id for r in refs)
    extra = (*(outcome_blocks(win) if win else ()), *_value_context(values))
    confirmation = Message(
        summary=f"{'Private kudos' if private else 'Kudos'} sent to {names}",
        blocks=(
            Paragraph(("🔒 Private kudos sent to " if private else "🙌 Kudos sent to ", *join_mentions(refs), ".")),
            Quote(kudos.reason),
            *extra,
            *((Context(("Only they can see it: no channel post, not in digests.",)),) if private else ()),
        ),
    )
    out: list[Outbound] = []
    for user in recipients:
        out.append(
            Outbound(
                key=f"kudos:{kudos.id}:dm:{user.id}",
                destination=DirectMessage(user_ref(user)),
                message=Message(
                    summary=f"{giver.display_name} gave you {'private ' if private else ''}kudos"
                    + (f" for the {win.customer} win" if win else ""),
                    blocks=(
                        Paragraph((Mention(giver_ref), " gave you private kudos 🔒" if private else " gave you kudos! 🎉")),
                        Quote(kudos.reason),
                        *extra,
                    ),
                ),
            )
        )
    if private:
        return confirmation, out
    celebration = Message(
        summary=f"{giver.display_name} gave kudos to {names}" + (f" for the {win.customer} win" if win else ""),
        blocks=(Paragraph(("🎉 ", Mention(giver_ref), " recognised ", *join_mentions(refs), ":")), Quote(kudos.reason), *extra),
    )
    for channel in channels:
        out.append(Outbound(key=f"kudos:{kudos.id}:channel:{channel.channel_id}", destination=channel, message=celebration))
    return confirmation, out


def _team_channels(s, org: OrgConfig, platform: str, recipients: list[User]) -> list[ChannelPost]:
    """Channels of the recipients' teams that take one post per kudos (the others get the digest)."""
    channels: dict[str, ChannelPost] = {}
    for user in recipients:
        for team in teams_of(s, user):
            config = org.teams.get(team.slug)
            if config is not None and not posts_per_kudos(config, org.recognition):
                continue
            channel = team_channel(team, platform)
            if channel:
                channels.setdefault(channel, ChannelPost(platform, channel))
    return list(channels.values())


def _replay(s, org: OrgConfig, kudos: Kudos) -> tuple[Message, list[Outbound]]:
    giver = s.get(User, kudos.giver_id)
    recipients = recipients_of(s, kudos.id)
    context = kudos_context(s, kudos.id)
    win = win_by_id(s, context.win_id) if context and context.win_id else None
    private = bool(context and context.private)
    return _messages(kudos, giver, recipients, values_of(s, kudos.id), _team_channels(s, org, kudos.platform, recipients), win, private)


# -- rules ----------------------------------------------------------------------------------------


def giver_timezone(s, giver: User) -> str | None:
    """The zone whose midnight starts the giver's day: their own, else their (first) team's.

    Teams profiles carry no timezone; without the fallback a Berlin colleague's day would
    reset at 01:00, in UTC.
    """
    if giver.timezone:
        return giver.timezone
    return next((t.timezone for t in teams_of(s, giver) if t.timezone), None)


def _enforce_limits(s, org: OrgConfig, giver: User, recipients: list[User], now) -> None:
    rules = org.recognition
    tz = giver_timezone(s, giver)
    since = period_start(now, tz, rules.allowance_period)
    used = recipients_given_since(s, giver.id, since)
    if used + len(recipients) > rules.allowance:
        left = max(rules.allowance - used, 0)
        when = "today" if rules.allowance_period == "day" else "this week"
        again = "tomorrow" if rules.allowance_period == "day" else "next week"
        people = "person" if rules.allowance == 1 else "people"
        detail = f"you can recognise {left} more {when}" if left else f"you can give more {again}"
        raise UserFacingError(
            f"Your kudos allowance is {rules.allowance} {people} per {rules.allowance_period} and you have used {used} {when}; "
            f"{detail}. Nothing was sent."
        )
    pairs = pair_counts_since(s, giver.id, [u.id for u in recipients], day_start(now, tz))
    over = [u for u in recipients if pairs.get(u.id, 0) >= rules.pair_limit_per_day]
    if over:
        who = ", ".join(u.display_name or u.external_id for u in over)
        times = "once" if rules.pair_limit_per_day == 1 else f"{rules.pair_limit_per_day} times"
        raise UserFacingError(f"You already gave kudos to {who} today; each person can get kudos from you {times} a day. Nothing was sent.")


@dataclass(frozen=True)
class Giver:
    """Who is giving, as the inbound event told us."""
    platform: str
    actor: UserRef
    delivery_key: str
    known: dict[str, Profile]


async def give(core, giver_source: Giver, request: KudosRequest) -> tuple[Message | None, list[Outbound]]:
    """Store a kudos once per delivery and return the giver's confirmation and the messages to send.

    A redelivered command returns the messages of the stored kudos again; the outbox then sends
    only those that did not go out the first time. Any rule that fails raises before anything is stored.
    """
    org: OrgConfig = core.org
    with session(core.engine) as s:
        existing = kudos_by_source(s, giver_source.delivery_key)
        if existing is not None:
            # A redelivery: the first copy confirmed already; only resend follow-ups that failed.
            return None, _replay(s, org, existing)[1]

    adapter = core.adapters[giver_source.platform]
    profiles = await resolve_profiles(core.engine, adapter, [giver_source.actor, *request.recipients], giver_source.known)
    actor_profile = profiles.get(giver_source.actor.external_id)
    if actor_profile is None:
        raise UserFacingError("I couldn't look up your profile on this workspace; please try again in a minute.")
    missing = [r for r in request.recipients if profiles.get(r.external_id) is None or profiles[r.external_id].deleted]
    if missing:
        who = ", ".join("@" + (r.display_name or r.external_id) for r in missing)
        raise UserFacingError(f"I couldn't find {who} in this workspace. Nothing was sent.")
    bots = [profiles[r.external_id] for r in request.recipients if profiles[r.external_id].is_bot]
    if bots:
        raise UserFacingError(f"{bots[0].display_name} is a bot; kudos are for people. Nothing was sent.")
    if any(r.external_id == giver_source.actor.external_id for r in request.recipients):
        raise UserFacingError("You can't give kudos to yourself, but it's good to be proud of your work! Nothing was sent.")

    now = core.clock()
    with write_unit(core.engine) as s:
        if not claim_inbound(s, giver_source.delivery_key):
            existing = kudos_by_source(s, giver_source.delivery_key)
            if existing is None:
                raise UserFacingError("This request was already handled.")
            return None, _replay(s, org, existing)[1]  # an overlapping copy: the first one confirms
        giver = store_profile(s, actor_profile)
        win = visible_win(s, set(identifiers_of(giver)), request.win) if request.win is not None else None
        recipients = [store_profile(s, profiles[r.external_id]) for r in request.recipients]
        _enforce_limits(s, org, giver, recipients, now)
        kudos = insert_kudos(
            s,
            giver_id=giver.id,
            recipient_ids=[u.id for u in recipients],
            reason=request.reason,
            values=list(request.values),
            platform=giver_source.platform,
            source_key=giver_source.delivery_key,
        )
        kudos.created_at = now
        set_kudos_context(s, kudos.id, win_id=win.id if win else None, private=request.private)
        channels = _team_channels(s, org, giver_source.platform, recipients)
        return _messages(kudos, giver, recipients, list(request.values), channels, win, request.private)


# -- the form -------------------------------------------------------------------------------------


def visible_win(s, seen_by: set[str], label: str) -> Win:
    """The win a label names, if this person may see it; the same answer for one they may not as
    for one that does not exist, so labels cannot be probed for other teams' customers."""
    win = find_win(s, label)
    if not visible_wins(s, seen_by, [win]):
        raise UserFacingError(f"There is no customer win {label.strip() or '(empty)'}. Nothing was sent.")
    return win


async def viewer(core, platform: str, actor: UserRef, given: Profile | None = None) -> set[str]:
    """Who is asking, as the identifiers team memberships use (their email needs the platform once)."""
    profiles = await resolve_profiles(core.engine, core.adapters[platform], [actor], {given.external_id: given} if given else {})
    profile = profiles.get(actor.external_id)
    return {f"{platform}:{actor.external_id}", *([profile.email.lower()] if profile and profile.email else [])}


def kudos_form(core, platform: str, actor_id: str, seen_by: set[str], win: Win | None = None) -> Form:
    org: OrgConfig = core.org
    with session(core.engine) as s:
        # Only wins this person could see already: the list names customers of other teams otherwise.
        wins = visible_wins(s, seen_by, recent_wins(s, core.clock() - timedelta(days=30)))
    if win is not None and all(w.id != win.id for w in wins):
        wins.insert(0, win)
    fields: list = [
        # No list of people in the form: Teams searches the directory as you type (everyone but you).
        UserSelect("recipients", "Who do you want to thank?", multiple=True, people="others"),
        TextInput("reason", "What did they do?", multiline=True, max_length=MAX_REASON),
    ]
    if org.values:
        fields.append(
            Select("value", "Company value", tuple((v, "#" + v) for v in org.values), optional=not org.recognition.values_required)
        )
    if wins:
        options = tuple((w.label, f"{w.label} · {w.customer}"[:75]) for w in wins)
        fields.append(Select("win", "Customer win (optional)", options, optional=True, initial=win.label if win else None))
    if org.recognition.private_kudos:
        fields.append(
            Select(
                "visibility",
                "Who sees it",
                (("public", "Team channel and the recipients"), ("private", "Only the recipients (private)")),
                initial="public",
            )
        )
    intro = (Paragraph(("Thanking people for ", Strong(win.customer), f" ({win.label})?")),) if win else ()
    return Form(FORM_ID, "Give kudos", "Send kudos", tuple(fields), metadata=win.label if win else "", intro=intro)


def _form_request(submission: FormSubmitted, org: OrgConfig) -> KudosRequest:
    values = submission.values
    raw = values.get("recipients")
    ids = [raw] if isinstance(raw, str) else list(raw or [])
    ids = list(dict.fromkeys(i for i in ids if isinstance(i, str) and i))
    reason = clean(values.get("reason") or "") if isinstance(values.get("reason"), str) else ""
    value = values.get("value") if isinstance(values.get("value"), str) else ""
    win = values.get("win") if isinstance(values.get("win"), str) and values.get("win") else None
    private = values.get("visibility") == "private"
    errors: dict[str, str] = {}
    if not ids:
        errors["recipients"] = "Pick at least one person."
    elif len(ids) > MAX_RECIPIENTS:
        errors["recipients"] = f"Kudos can go to at most {MAX_RECIPIENTS} people at once."
    if not reason:
        errors["reason"] = "Please say what the kudos is for."
    elif len(reason) > MAX_REASON:
        errors["reason"] = f"That reason is {len(reason):,} characters; please keep it under {MAX_REASON:,}."
    try:
        tags = _check_values([value] if value else [], org) if org.values else []
    except UserFacingError as exc:
        errors["value"] = exc.text
        tags = []
    if win is not None and parse_label(win) is None:
        errors["win"] = f"There is no customer win {win}."
    if private and not org.recognition.private_kudos:
        errors["visibility"] = "Private kudos are turned off in this workspace."
    if errors:
        raise FormInvalid(errors)
    return KudosRequest(tuple(UserRef(submission.platform, i, "") for i in ids), reason, tuple(tags), win, private)


async def on_form(core, submission: FormSubmitted):
    request = _form_request(submission, core.org)
    known = {submission.actor_profile.external_id: submission.actor_profile} if submission.actor_profile else {}
    try:
        reply, followups = await give(core, Giver(submission.platform, submission.actor, submission.delivery_key, known), request)
    except FormInvalid:
        raise
    except UserFacingError as exc:
        # Keep the modal open on Slack with the problem next to the field it is about.
        field = "win" if exc.text.startswith("There is no customer win") else "recipients"
        raise FormInvalid({field: exc.text}) from None
    return Outcome(reply=reply, followups=followups)


async def on_give_for_win(core, action: ActionInvoked):
    """The "Give kudos" button under a win post: a kudos form with that win already picked."""
    seen_by = await viewer(core, action.platform, action.actor, action.actor_profile)
    with session(core.engine) as s:
        win = visible_win(s, seen_by, action.value)
    return Outcome(form=kudos_form(core, action.platform, action.actor.external_id, seen_by, win))


# -- stats ----------------------------------------------------------------------------------------


def _stats_message(core, platform: str, actor: UserRef) -> Message:
    with session(core.engine) as s:
        user = find_user(s, platform, actor.external_id)
        stats = personal_stats(s, user.id) if user else {"given": 0, "received": 0, "received_values": [], "given_values": [], "wins": 0, "customer": 0}
    received_values = ", ".join(f"#{v} ×{n}" for v, n in stats["received_values"]) or "none yet"
    given_values = ", ".join(f"#{v} ×{n}" for v, n in stats["given_values"]) or "none yet"
    return Message(
        summary=f"Your kudos: {stats['received']} received, {stats['given']} given",
        blocks=(
            Paragraph(("📊 ", Strong("Your recognition"), " (only you can see this)")),
            Paragraph(
                (
                    f"Kudos received: {stats['received']} · Kudos given: {stats['given']} · "
                    f"Customer wins: {stats['wins']} · Praise from customers: {stats['customer']}",
                )
            ),
            Context((f"Values you were recognised for: {received_values}",)),
            Context((f"Values you recognised: {given_values}",)),
        ),
    )


def _leaderboard_message(core) -> Message:
    if not core.org.recognition.leaderboard:
        raise UserFacingError("The leaderboard is turned off in this workspace (recognition.leaderboard in the config).")
    with session(core.engine) as s:
        rows = leaderboard(s, core.clock() - timedelta(days=30))
    lines = [Paragraph((f"{i}. ", Mention(user_ref(u)), f" — {n} kudos")) for i, (u, n) in enumerate(rows, 1)]
    return Message(
        summary="Kudos leaderboard (last 30 days)",
        blocks=(Paragraph((Strong("Most recognised in the last 30 days"),)), *(lines or [Paragraph(("No public kudos yet.",))])),
    )


async def on_command(core, cmd: CommandInvoked):
    text = cmd.raw_text.lower()
    if not text:
        # The form for people who prefer fields, and the one-line syntax for next time.
        tip = f"Tip: you can also do it in one line. {USAGE}"
        seen_by = await viewer(core, cmd.platform, cmd.actor, cmd.actor_profile)
        return Outcome(form=kudos_form(core, cmd.platform, cmd.actor.external_id, seen_by), reply=Message(summary=tip, blocks=(Context((tip,)),)))
    if text == "stats":
        return Outcome(reply=_stats_message(core, cmd.platform, cmd.actor))
    if text in ("leaderboard", "top"):
        return Outcome(reply=_leaderboard_message(core))
    request = parse(cmd, core.org)
    known = {p.external_id: p for p in (*cmd.mentioned_profiles, *((cmd.actor_profile,) if cmd.actor_profile else ()))}
    reply, followups = await give(core, Giver(cmd.platform, cmd.actor, cmd.delivery_key, known), request)
    return Outcome(reply=reply, followups=followups)


def register(core) -> None:
    core.command("kudos", "thank colleagues for what they did", USAGE, on_command, opens_form=lambda cmd: not cmd.raw_text.strip())
    core.form(FORM_ID, on_form)
    core.action(GIVE_KUDOS_ACTION, on_give_for_win)
