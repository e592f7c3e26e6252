"""Pulse DMs and result summaries as neutral messages (buttons are one tap; nothing here is platform-specific)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.kernel.messages import Actions, Block, Button, Context, Heading, Message, Paragraph, Strong
from storage.pulses.tables import Pulse, PulseAnswer, PulseQuestion

MOODS = ("😞", "🙁", "😐", "🙂", "😄")
LIKERT_LEGEND = "1 = strongly disagree · 5 = strongly agree"


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def local_time(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%a %d %b %H:%M ") + (at.astimezone(tz).tzname() or "")


def options(question: PulseQuestion) -> list[tuple[int, str]]:
    """(stored value, button label) for every one-tap answer of a question."""
    if question.scale == "likert":
        return [(v, str(v)) for v in range(1, 6)]
    if question.scale == "mood":
        return [(v, MOODS[v - 1]) for v in range(1, 6)]
    if question.scale == "enps":
        return [(v, str(v)) for v in range(0, 11)]
    if question.scale == "choice":
        return list(enumerate(question.choices))
    return []


def label_of(question: PulseQuestion, answer: PulseAnswer) -> str:
    if question.scale == "text":
        return "“" + (answer.text or "")[:80] + ("…" if len(answer.text or "") > 80 else "") + "”"
    return dict(options(question)).get(answer.value, str(answer.value))


def _answer_rows(pulse: Pulse, q: PulseQuestion, chosen: int | None) -> list[Actions]:
    buttons = [
        Button(label, f"pulse.answer:{q.id}:{value}", f"{pulse.id}:{q.id}:{value}", "primary" if value == chosen else None)
        for value, label in options(q)
    ]
    # Teams shows at most six buttons side by side, so 0–10 goes on two rows.
    return [Actions(tuple(buttons[i : i + 6])) for i in range(0, len(buttons), 6)]


def question_message(
    pulse: Pulse,
    team_name: str,
    questions: list[PulseQuestion],
    answers: dict[int, PulseAnswer],
    tz: ZoneInfo,
    *,
    reminder: bool = False,
) -> Message:
    closes = local_time(pulse.closes_at, tz)
    done = bool(questions) and all(q.id in answers for q in questions)
    title = ("⏰ Reminder: " if reminder else "") + f"Quick pulse · {team_name}"
    blocks: list[Block] = [
        Heading(title),
        Context((f"Anonymous: results are shown only for groups of {pulse.min_group_size} or more. You can change answers until {closes}.",)),
    ]
    for i, q in enumerate(questions, 1):
        answer = answers.get(q.id)
        blocks.append(Paragraph((Strong(f"{i}. "), q.text)))
        if q.scale == "likert":
            blocks.append(Context((LIKERT_LEGEND,)))
        elif q.scale == "enps":
            blocks.append(Context(("0 = not at all likely · 10 = extremely likely",)))
        if q.scale == "text":
            blocks.append(Actions((Button("Edit answer" if answer else "✍️ Answer", f"pulse.text:{q.id}", f"{pulse.id}:{q.id}"),)))
        else:
            blocks.extend(_answer_rows(pulse, q, answer.value if answer else None))
        if answer is not None:
            note = "✅ Thanks! Your answer: " + label_of(q, answer)
            if answer.comment:
                note += " · 💬 comment saved"
            blocks.append(Context((note,)))
            if q.allow_comment and q.scale != "text":
                blocks.append(Actions((Button("Edit comment" if answer.comment else "💬 Add a comment", f"pulse.comment:{q.id}", f"{pulse.id}:{q.id}"),)))
    if done:
        blocks.append(Paragraph(("🙏 Thank you, that's everything. Tap another answer any time before the pulse closes to change it.",)))
    summary = "Thanks for answering the pulse" if done else f"{'Reminder: ' if reminder else ''}{len(questions)} quick question(s) from {team_name}"
    return Message(summary=summary, blocks=tuple(blocks))
