"""Customer wins: `/win` opens a form; a submitted win is stored as `W-<n>`, its contributors are
recognised, and it is posted once to each contributor team's channel with a "Give kudos" button.

Wins are posted right away even for teams whose kudos go into the weekly digest: they are rare,
and the button is only useful while the win is fresh.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.directory.lookup import resolve_profiles, store_profile, user_ref
from bot.kernel.errors import UserFacingError
from bot.kernel.events import CommandInvoked, FormSubmitted
from bot.kernel.messages import (
    Actions,
    Block,
    Button,
    Context,
    DateInput,
    Form,
    Mention,
    Message,
    Paragraph,
    Quote,
    Strong,
    TextInput,
    UserRef,
    UserSelect,
    join_mentions,
)
from bot.kernel.ports import ChannelPost, DirectMessage, Outbound
from bot.kernel.text import clean
from storage.kernel.db import session, write_unit
from storage.kernel.deliveries import claim_inbound
from storage.directory.queries import team_channel, teams_of
from storage.recognition.queries import contributors_of, insert_win, win_by_id, win_by_source
from storage.recognition.tables import MAX_CUSTOMER, MAX_SUMMARY, MAX_VALUE, Win
from storage.directory.tables import User
from bot.kernel.core import FormInvalid, Outcome

FORM_ID = "win.record"
GIVE_KUDOS_ACTION = "kudos.win"
MAX_CONTRIBUTORS = 20
_LABEL = re.compile(r"^\s*W-?(\d{1,9})\s*$", re.IGNORECASE)


def parse_label(text: str) -> int | None:
    """`W-42`, `w42` or `42` → 42; anything else → None."""
    match = _LABEL.match(text or "") or re.match(r"^\s*(\d{1,9})\s*$", text or "")
    return int(match.group(1)) if match else None


def outcome_text(win: Win, limit: int = 200) -> str:
    summary = win.summary if len(win.summary) <= limit else win.summary[: limit - 1].rstrip() + "…"
    return f"{summary} ({win.value})" if win.value else summary


def outcome_blocks(win: Win) -> tuple[Block, ...]:
    """How a kudos names the customer outcome it belongs to."""
    return (Paragraph(("🏆 Customer outcome: ", Strong(win.customer), " — ", outcome_text(win))), Context((f"Part of win {win.label}",)))


def win_form(core, platform: str) -> Form:
    today = core.clock().date().isoformat()
    return Form(
        form_id=FORM_ID,
        title="Record a customer win",
        submit_label="Record win",
        fields=(
            TextInput("customer", "Customer or account", max_length=MAX_CUSTOMER, placeholder="Acme Corp"),
            TextInput("summary", "What happened?", multiline=True, max_length=MAX_SUMMARY, placeholder="Renewal saved after the SSO outage"),
            TextInput("value", "Value (optional)", optional=True, max_length=MAX_VALUE, placeholder="$120k ARR, renewal, CSAT rescue"),
            DateInput("won_on", "Date", initial=today),
            UserSelect("contributors", "Who made it happen?", multiple=True, people="directory"),
        ),
        intro=(Paragraph(("Everyone you pick is recognised as part of this win, and their team channel hears about it.",)),),
    )


def _text(values: dict, key: str) -> str:
    raw = values.get(key)
    return clean(raw) if isinstance(raw, str) else ""


def validate(values: dict, today: date) -> tuple[str, str, str | None, date, list[str]]:
    errors: dict[str, str] = {}
    customer = " ".join(_text(values, "customer").split())
    summary = _text(values, "summary")
    value = " ".join(_text(values, "value").split()) or None
    if not customer:
        errors["customer"] = "Please name the customer or account."
    elif len(customer) > MAX_CUSTOMER:
        errors["customer"] = f"The customer name is {len(customer)} characters; please keep it under {MAX_CUSTOMER}."
    if not summary:
        errors["summary"] = "Please say what happened."
    elif len(summary) > MAX_SUMMARY:
        errors["summary"] = f"That description is {len(summary):,} characters; please keep it under {MAX_SUMMARY:,}."
    if value is not None and len(value) > MAX_VALUE:
        errors["value"] = f"The value is {len(value)} characters; please keep it under {MAX_VALUE}."
    won_on = today
    raw_date = values.get("won_on")
    if raw_date:
        try:
            won_on = date.fromisoformat(str(raw_date)[:10])
        except ValueError:
            errors["won_on"] = "Please pick a date."
        else:
            if won_on > today + timedelta(days=1):
                errors["won_on"] = "A win cannot be in the future."
    raw = values.get("contributors")
    contributors = [raw] if isinstance(raw, str) else list(raw or [])
    contributors = list(dict.fromkeys(c for c in contributors if isinstance(c, str) and c))
    if not contributors:
        errors["contributors"] = "Pick at least one person who made it happen."
    elif len(contributors) > MAX_CONTRIBUTORS:
        errors["contributors"] = f"Pick at most {MAX_CONTRIBUTORS} people."
    if errors:
        raise FormInvalid(errors)
    return customer, summary, value, won_on, contributors


def win_post(win: Win, contributors: list[User]) -> Message:
    refs = [user_ref(u) for u in contributors]
    blocks: list[Block] = [
        Paragraph(("🏆 Customer win ", Strong(win.label), ": ", Strong(win.customer))),
        Quote(win.summary),
    ]
    if win.value:
        blocks.append(Paragraph(("Value: ", win.value)))
    blocks.append(Paragraph(("Made happen by ", *join_mentions(refs), ".")))
    blocks.append(Context((f"{win.label} · {win.won_on.isoformat()}",)))
    blocks.append(Actions((Button("Give kudos", GIVE_KUDOS_ACTION, str(win.id), "primary"),)))
    return Message(summary=f"Customer win {win.label}: {win.customer}", blocks=tuple(blocks))


def _messages(s, win: Win, creator: User) -> tuple[Message, list[Outbound]]:
    contributors = contributors_of(s, win.id)
    post = win_post(win, contributors)
    out: list[Outbound] = []
    channels: dict[str, ChannelPost] = {}
    for user in contributors:
        for team in teams_of(s, user):
            channel = team_channel(team, win.platform)
            if channel:
                channels.setdefault(channel, ChannelPost(win.platform, channel))
    for channel in channels.values():
        out.append(Outbound(key=f"win:{win.id}:channel:{channel.channel_id}", destination=channel, message=post))
    for user in contributors:
        if user.id == creator.id:
            continue
        out.append(
            Outbound(
                key=f"win:{win.id}:dm:{user.id}",
                destination=DirectMessage(user_ref(user)),
                message=Message(
                    summary=f"You are part of customer win {win.label}",
                    blocks=(
                        Paragraph((Mention(user_ref(creator)), " recorded a customer win and named you as part of it 🎉")),
                        Paragraph((Strong(win.customer), " — ", outcome_text(win))),
                        Context((win.label,)),
                    ),
                ),
            )
        )
    names = ", ".join(u.display_name or u.external_id for u in contributors)
    where = ", ".join(c.channel_id for c in channels.values())
    confirmation = Message(
        summary=f"Win {win.label} recorded",
        blocks=(
            Paragraph(("🏆 Win ", Strong(win.label), " recorded for ", Strong(win.customer), ".")),
            Context((f"Contributors: {names}." + (f" Posted to {len(channels)} team channel(s)." if where else " No team channel is configured for them."),)),
        ),
    )
    return confirmation, out


async def on_command(core, cmd: CommandInvoked):
    return Outcome(form=win_form(core, cmd.platform))


async def on_form(core, submission: FormSubmitted):
    with session(core.engine) as s:
        existing = win_by_source(s, submission.delivery_key)
        if existing is not None:
            # A redelivered submission: the first copy already confirmed (on Slack, by DM). Only
            # resend follow-ups that failed (outbox keys); a second confirmation is a duplicate.
            _reply, followups = _messages(s, existing, s.get(User, existing.created_by))
            return Outcome(followups=followups)

    now = core.clock()
    customer, summary, value, won_on, contributor_ids = validate(submission.values, now.date())
    refs = [UserRef(submission.platform, external_id, "") for external_id in contributor_ids]
    given = {submission.actor_profile.external_id: submission.actor_profile} if submission.actor_profile else {}
    profiles = await resolve_profiles(core.engine, core.adapters[submission.platform], [submission.actor, *refs], given)
    actor_profile = profiles.get(submission.actor.external_id)
    if actor_profile is None:
        raise UserFacingError("I couldn't look up your profile on this workspace; please try again in a minute.")
    missing = [r.external_id for r in refs if profiles.get(r.external_id) is None or profiles[r.external_id].deleted]
    if missing:
        raise FormInvalid({"contributors": "I couldn't find some of the people you picked; please pick them again."})
    bots = [profiles[r.external_id].display_name for r in refs if profiles[r.external_id].is_bot]
    if bots:
        raise FormInvalid({"contributors": f"{bots[0]} is a bot; wins are made by people."})

    with write_unit(core.engine) as s:
        if not claim_inbound(s, submission.delivery_key):
            existing = win_by_source(s, submission.delivery_key)
            if existing is None:
                raise UserFacingError("This win was already submitted.")
            _reply, followups = _messages(s, existing, s.get(User, existing.created_by))
            return Outcome(followups=followups)  # an overlapping copy: the first one confirms
        creator = store_profile(s, actor_profile)
        contributors = [store_profile(s, profiles[r.external_id]) for r in refs]
        win = insert_win(
            s,
            customer=customer,
            summary=summary,
            value=value,
            won_on=won_on,
            created_by=creator.id,
            platform=submission.platform,
            source_key=submission.delivery_key,
            contributor_ids=[u.id for u in contributors],
            created_at=now,
        )
        reply, followups = _messages(s, win, creator)
    return Outcome(reply=reply, followups=followups)


def find_win(s, label: str) -> Win:
    number = parse_label(label)
    win = win_by_id(s, number) if number is not None else None
    if win is None:
        raise UserFacingError(f"There is no customer win {label.strip() or '(empty)'}. Nothing was sent.")
    return win


def register(core) -> None:
    core.command("win", "record a customer win and celebrate who made it happen", "Usage: /win (opens a form)", on_command)
    core.form(FORM_ID, on_form)
