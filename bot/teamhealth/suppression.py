"""Which pulse answers may be shown: the rule that keeps /teamhealth from re-identifying anyone.

The unit is an *atom*: the answers to one question of one closed, scheduled pulse of one team.
Answers within an atom come from distinct people (one answer per respondent per question).

    An atom with fewer than N answers is dropped before anything is computed, where N is the
    larger of the configured minimum and the pulse's own min_group_size. Every pulse-derived
    figure (engagement, eNPS, driver averages, sentiment, themes, the sparkline) is a sum over
    whole surviving atoms; a figure whose surviving atoms hold fewer than N answers in total is
    shown as "not enough responses".

Why that is safe against subtraction: atoms never straddle a shown boundary (a pulse belongs to
one team and its cycle date falls in exactly one week, month and quarter; periods are fixed
calendar buckets, never rolling windows), so any difference or other linear combination of shown
figures is a sum over whole surviving atoms, and each of those holds at least N people's answers.
Dropped atoms are in no figure at all, so nothing can be subtracted to recover them. Open pulses
are excluded because their answers still change, and two reads a minute apart would differ by
one person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from storage.teamhealth.queries import Atom

NOT_ENOUGH = "not enough responses"


def minimum(core) -> int:
    """The configured floor: the larger of `teamhealth.min_respondents` and `pulses.min_group_size`."""
    return max(core.org.teamhealth.min_respondents, core.org.pulses.min_group_size)


def threshold(atom: Atom, minimum: int) -> int:
    return max(minimum, atom.min_group_size or 0)


def shown_atoms(atoms: Iterable[Atom], minimum: int) -> list[Atom]:
    return [a for a in atoms if a.n >= threshold(a, minimum)]


def enough(atoms: list[Atom], minimum: int) -> bool:
    return bool(atoms) and sum(a.n for a in atoms) >= minimum


def shown_participation(per_pulse: Sequence[tuple[int, int, int, int]], minimum: int) -> tuple[float | None, int]:
    """(participation %, pulses left out) over a period's closed pulses, never revealing a count below
    a pulse's minimum.

    `per_pulse` holds (pulse id, asked, answered, the pulse's own min_group_size). A pulse whose
    answered count is below max(minimum, its own minimum) adds nothing to the percentage (else the
    month's figure minus its weeks' would give its exact count); what remains is a figure only when
    it totals at least `minimum` answers. Every view and goal reads participation through this.
    """
    kept = [(asked, answered) for _pid, asked, answered, own in per_pulse if answered >= max(minimum, own or 0)]
    asked = sum(a for a, _ in kept)
    answered = sum(n for _, n in kept)
    if not kept or not asked or answered < minimum:
        return None, len(per_pulse) - len(kept)
    return 100 * answered / asked, len(per_pulse) - len(kept)


def participation_text(per_pulse: Sequence[tuple[int, int, int, int]], minimum: int) -> str | None:
    """`shown_participation` as /teamhealth words it; None when the period has no closed pulse."""
    if not per_pulse:
        return None
    value, dropped = shown_participation(per_pulse, minimum)
    if value is None:
        return f"fewer than {minimum} respondents per pulse"
    text = f"{round(value)}%"
    if dropped:
        text += f" (not counting {dropped} pulse(s) with fewer than {minimum} respondents)"
    return text
