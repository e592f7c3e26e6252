"""Aggregates for leads: only for closed pulses, gated by the minimum group size (scores and comments alike).

Nothing below the threshold is shown, not even the exact count, and comments are listed in
alphabetical order without dates, so neither order nor timing hints at who wrote what. An open
pulse shows its questions and coarse participation only (bot/pulses/anonymity.py, release rule):
a result that changed between two reads would be one person's answer.
"""

from __future__ import annotations

from collections import Counter

from bot.kernel.messages import Block, Context, Fields, Heading, Message, Paragraph, Quote, Strong
from bot.pulses.anonymity import visible
from bot.pulses.render import MOODS, local_time, zone
from storage.pulses.tables import Pulse, PulseAnswer, PulseQuestion

MAX_COMMENTS = 20


def _mood(p: float | None) -> str:
    if p is None:
        return ""
    return " (positive)" if p > 0.1 else " (negative)" if p < -0.1 else " (neutral)"


def _score_fields(q: PulseQuestion, answers: list[PulseAnswer]) -> Fields:
    values = [a.value for a in answers if a.value is not None]
    n = len(answers)
    if q.scale == "enps":
        promoters = sum(v >= 9 for v in values)
        detractors = sum(v <= 6 for v in values)
        return Fields((("eNPS", f"{round(100 * (promoters - detractors) / n):+d}"), ("Promoters / passives / detractors", f"{promoters} / {n - promoters - detractors} / {detractors}"), ("Answers", str(n))))
    if q.scale in ("likert", "mood"):
        counts = Counter(values)
        labels = [str(v) for v in range(1, 6)] if q.scale == "likert" else list(MOODS)
        spread = "  ".join(f"{labels[v - 1]}×{counts.get(v, 0)}" for v in range(1, 6))
        favourable = round(100 * sum(v >= 4 for v in values) / n)
        return Fields((("Average", f"{sum(values) / n:.1f} / 5"), ("Favourable", f"{favourable}%"), ("Spread", spread), ("Answers", str(n))))
    if q.scale == "choice":
        counts = Counter(values)
        return Fields(tuple((choice, f"{counts.get(i, 0)} ({round(100 * counts.get(i, 0) / n)}%)") for i, choice in enumerate(q.choices)) + (("Answers", str(n)),))
    return Fields((("Answers", str(n)),))


def pulse_results(pulse: Pulse, team_name: str, questions: list[PulseQuestion], answers: list[PulseAnswer], tz_name: str) -> list[Block]:
    tz = zone(tz_name)
    state = "closed" if pulse.status == "closed" else f"open until {local_time(pulse.closes_at, tz)}"
    kind = "Ad-hoc pulse" if pulse.kind == "adhoc" else "Pulse"
    blocks: list[Block] = [Heading(f"{kind} · {team_name} · {pulse.cycle_date.isoformat()}"), Context((state,))]
    by_question: dict[int, list[PulseAnswer]] = {}
    for a in answers:
        by_question.setdefault(a.question_id, []).append(a)
    for q in questions:
        got = by_question.get(q.id, [])
        blocks.append(Paragraph((Strong(q.text),)))
        if not visible(len(got), pulse.min_group_size):
            blocks.append(Context((f"🔒 Hidden until at least {pulse.min_group_size} people have answered, to keep answers anonymous.",)))
            continue
        blocks.append(_score_fields(q, got))
        texts = sorted((a.text, a.polarity) for a in got if a.text) + sorted((a.comment, a.polarity) for a in got if a.comment)
        for text, p in texts[:MAX_COMMENTS]:
            blocks.append(Quote(text))
            blocks.append(Context((f"sentiment{_mood(p)}",)))
        if len(texts) > MAX_COMMENTS:
            blocks.append(Context((f"…and {len(texts) - MAX_COMMENTS} more",)))
    return blocks


def open_pulse_section(pulse: Pulse, team_name: str, questions: list[PulseQuestion], progress: str, tz_name: str) -> list[Block]:
    kind = "Ad-hoc pulse" if pulse.kind == "adhoc" else "Pulse"
    blocks: list[Block] = [
        Heading(f"{kind} · {team_name} · {pulse.cycle_date.isoformat()}"),
        Context((f"open until {local_time(pulse.closes_at, zone(tz_name))}",)),
        Paragraph((f"Participation: {progress}.",)),
    ]
    for q in questions:
        blocks.append(Paragraph((Strong(q.text),)))
    blocks.append(Context((f"🔒 Results are shown once the pulse closes, for questions at least {pulse.min_group_size} people answered — "
                           "so no change between two looks can be pinned on one person.",)))
    return blocks


def results_message(sections: list[list[Block]]) -> Message:
    if not sections:
        return Message("No pulses to show yet.", (Paragraph(("No pulse results to show yet.",)),))
    return Message("Pulse results", tuple(b for section in sections for b in section))
