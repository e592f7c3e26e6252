"""One-tap answers, changed answers, comments and free-text answers.

Button values are untrusted: each click is checked against the stored pulse, its questions and
the clicker's own delivery row (that of any of their accounts: one person, one respondent) before
anything is written, and a rejected click stores nothing.

An answer is written in a transaction of its own that touches nothing else: the delivery's
`answered` flag is flipped later, in shuffled batches (bot/pulses/flags.py), so no transaction id,
row order or timestamp pairs an answer with the person who gave it. The answer's date is the
pulse's cycle date, the same for everyone.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.kernel.core import FormInvalid, Outcome
from bot.kernel.errors import UserFacingError
from bot.kernel.events import ActionInvoked, FormSubmitted
from bot.kernel.messages import Form, Message, Paragraph, TextInput
from bot.kernel.ports import ref_to_handle
from bot.pulses.anonymity import key_of, polarity, secret_of
from bot.pulses.fanout import MessageCache, delivery_message
from bot.pulses.render import local_time, options, zone
from bot.kernel.text import clean
from storage.kernel.db import session, write
from storage.directory.queries import find_user
from storage.pulses.tables import Pulse, PulseDelivery, PulseQuestion
from storage.pulses.queries import accounts_of, answers_of, delivery_of, upsert_answer
from storage.directory.tables import Team, User

MAX_COMMENT = 1000
_REF = re.compile(r"^(\d{1,12}):(\d{1,12})(?::(-?\d{1,3}))?$")
FORGED = "That button doesn't match any question I sent you. Nothing was recorded."


def parse_ref(raw: str, with_value: bool) -> tuple[int, int, int | None]:
    match = _REF.match(raw or "")
    if match is None or (match.group(3) is not None) != with_value:
        raise UserFacingError(FORGED)
    return int(match.group(1)), int(match.group(2)), int(match.group(3)) if with_value else None


def _check(s, core, actor, pulse_id: int, question_id: int, now: datetime) -> tuple[Pulse, PulseQuestion, User, PulseDelivery]:
    pulse = s.get(Pulse, pulse_id)
    if pulse is None:
        raise UserFacingError("I can't find that pulse any more. Nothing was recorded.")
    question = s.get(PulseQuestion, question_id)
    if question is None or question.pulse_id != pulse.id:
        raise UserFacingError(FORGED)
    user = find_user(s, actor.platform, actor.external_id)
    delivery = delivery_of(s, pulse.id, accounts_of(s, user)) if user else None
    if delivery is None or question.question_key not in delivery.question_keys:
        raise UserFacingError("That question wasn't sent to you, so I can't take an answer for it. Nothing was recorded.")
    if pulse.status != "open" or now >= pulse.closes_at:
        team = s.get(Team, pulse.team_id)
        closed = local_time(pulse.closes_at, zone(user.timezone, team.timezone if team else "UTC"))
        raise UserFacingError(f"This pulse closed on {closed}; answers can no longer be given or changed. Nothing was recorded.")
    return pulse, question, user, delivery


def _refreshed(core, s, delivery: PulseDelivery, user: User) -> Message:
    return delivery_message(core, s, MessageCache(core), delivery, user)


async def on_answer(core, action: ActionInvoked) -> Outcome:
    secret = secret_of(core)
    pulse_id, question_id, value = parse_ref(action.value, with_value=True)
    # The action id repeats question and value; a mismatch means the payload was edited.
    if action.action_id != f"pulse.answer:{question_id}:{value}":
        raise UserFacingError(FORGED)
    now = core.clock()

    def store(s) -> Message:
        pulse, question, user, delivery = _check(s, core, action.actor, pulse_id, question_id, now)
        if question.scale == "text" or value not in dict(options(question)):
            raise UserFacingError(f"{value} is not one of the answers to this question. Nothing was recorded.")
        # Only the answer: the "answered" flag flips later, in a shuffled batch (bot/pulses/flags.py).
        upsert_answer(s, pulse_id=pulse.id, question_id=question.id, respondent=key_of(secret, s, user, pulse.id), on=pulse.cycle_date, value=value)
        return _refreshed(core, s, delivery, user)

    # The click was acknowledged already: the answer commits (retried past lock/serialisation
    # conflicts with the fan-out) or the core tells the person it could not be saved.
    return Outcome(update=await write(core.engine, store))


async def _open_form(core, action: ActionInvoked, form_id: str) -> Outcome:
    secret = secret_of(core)
    pulse_id, question_id, _ = parse_ref(action.value, with_value=False)
    prefix = "pulse.comment" if form_id == "pulse.comment" else "pulse.text"
    if action.action_id != f"{prefix}:{question_id}":
        raise UserFacingError(FORGED)
    with session(core.engine) as s:
        pulse, question, user, _delivery = _check(s, core, action.actor, pulse_id, question_id, core.clock())
        answer = answers_of(s, pulse.id, key_of(secret, s, user, pulse.id)).get(question.id)
    if form_id == "pulse.comment":
        if question.scale == "text" or not question.allow_comment:
            raise UserFacingError("This question doesn't take comments. Nothing was recorded.")
        if answer is None:
            raise UserFacingError("Please pick an answer first, then add your comment.")
        field = TextInput("comment", "Your comment (anonymous)", multiline=True, max_length=MAX_COMMENT, initial=answer.comment)
        title = "Add a comment"
    else:
        if question.scale != "text":
            raise UserFacingError(FORGED)
        field = TextInput("answer", "Your answer (anonymous)", multiline=True, max_length=MAX_COMMENT, initial=answer.text if answer else None)
        title = "Your answer"
    intro = (
        Paragraph((question.text,)),
        Paragraph((f"Results are shown only after the pulse closes, and only for groups of {pulse.min_group_size}+, without names or times. "
                   "Your words are shown as written, so leave out details that would identify you.",)),
    )
    return Outcome(form=Form(form_id, title, "Save", (field,), metadata=f"{pulse.id}:{question.id}", intro=intro))


async def on_comment_button(core, action: ActionInvoked) -> Outcome:
    return await _open_form(core, action, "pulse.comment")


async def on_text_button(core, action: ActionInvoked) -> Outcome:
    return await _open_form(core, action, "pulse.text")


async def _save_text(core, submission: FormSubmitted, field_id: str) -> Outcome:
    secret = secret_of(core)
    pulse_id, question_id, _ = parse_ref(submission.metadata, with_value=False)
    raw = submission.values.get(field_id)
    text = clean(raw) if isinstance(raw, str) else ""
    if not text:
        raise FormInvalid({field_id: "Please write something, or press Cancel."})
    if len(text) > MAX_COMMENT:
        raise FormInvalid({field_id: f"Please keep it under {MAX_COMMENT:,} characters (this is {len(text):,})."})
    now = core.clock()

    def store(s):
        pulse, question, user, delivery = _check(s, core, submission.actor, pulse_id, question_id, now)
        key = key_of(secret, s, user, pulse.id)
        if field_id == "comment":
            if question.scale == "text" or not question.allow_comment:
                raise UserFacingError("This question doesn't take comments. Nothing was recorded.")
            if question.id not in answers_of(s, pulse.id, key):
                raise UserFacingError("Please pick an answer first, then add your comment.")
            upsert_answer(s, pulse_id=pulse.id, question_id=question.id, respondent=key, on=pulse.cycle_date, comment=text, polarity=polarity(text))
        else:
            if question.scale != "text":
                raise UserFacingError(FORGED)
            upsert_answer(s, pulse_id=pulse.id, question_id=question.id, respondent=key, on=pulse.cycle_date, text=text, polarity=polarity(text))
        # The person may be answering from their other account; then the stored DM is not this one.
        mine = delivery.user_id == user.id
        handle = ref_to_handle(delivery.platform, delivery.platform_ref) if delivery.platform_ref and mine else None
        return _refreshed(core, s, delivery, user), handle

    refreshed, handle = await write(core.engine, store)
    if handle is not None:
        # The stored handle, never one from the form: a forged one could overwrite someone else's DM.
        adapter = core.adapters.get(handle.platform)
        if adapter is not None:
            try:
                await adapter.update(handle, refreshed)
            except Exception:  # noqa: BLE001 - the answer is stored; a stale DM is cosmetic
                pass
    what = "comment" if field_id == "comment" else "answer"
    return Outcome(reply=Message(f"Thanks, your {what} is saved anonymously.", (Paragraph((f"🙏 Thanks, your {what} is saved anonymously. You can edit it until the pulse closes.",)),)))


async def on_comment_form(core, submission: FormSubmitted) -> Outcome:
    return await _save_text(core, submission, "comment")


async def on_text_form(core, submission: FormSubmitted) -> Outcome:
    return await _save_text(core, submission, "answer")
