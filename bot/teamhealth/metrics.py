"""Team-health figures for one team and one calendar period, with the previous period for trend.

SQL does the aggregation (storage/teamhealth/queries.py); this module applies the suppression rule to
pulse atoms and turns sums into the figures people read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.teamhealth.periods import Period, last_weeks
from bot.teamhealth.suppression import enough, shown_atoms, shown_participation
from bot.teamhealth.themes import sentiment_split, themes
from storage.teamhealth import team_feedback as cx
from storage.teamhealth import queries as q
from storage.pulses.queries import participation_by_pulse
from storage.directory.tables import Team

QUIET_DAYS = 30


@dataclass
class PulseFigures:
    available: bool = False  # some closed scheduled pulse fell in the period
    suppressed: bool = False  # there were answers, but too few to show
    engagement: float | None = None
    enps: float | None = None
    drivers: dict[str, float] = field(default_factory=dict)
    respondents_floor: int = 0
    pulse_ids: list[int] = field(default_factory=list)  # every closed pulse in the period (participation)
    question_ids: list[int] = field(default_factory=list)  # shown atoms only (comments, themes)


@dataclass
class Figures:
    period: Period
    pulse: PulseFigures
    participation: float | None
    recognition: q.Recognition
    kudos_per_person: float | None
    quiet: int | None
    customer: cx.CustomerFigures

    @property
    def csat(self) -> float | None:
        return self.customer.csat

    @property
    def nps(self) -> float | None:
        return self.customer.nps

    @property
    def positive_share(self) -> float | None:
        return self.customer.positive_share

    def value(self, metric: str) -> float | None:
        return {
            "engagement": self.pulse.engagement,
            "enps": self.pulse.enps,
            "participation": self.participation,
            "kudos_per_person": self.kudos_per_person,
            "kudos_given": float(self.recognition.given),
            "quiet_contributors": None if self.quiet is None else float(self.quiet),
            "customer_kudos": float(self.customer.customer_kudos),
            "csat": self.csat,
            "nps": self.nps,
            "positive_feedback": self.positive_share,
        }[metric]


def combine(atoms: list[q.Atom], minimum: int) -> PulseFigures:
    """Figures from atoms that pass suppression; see bot/teamhealth/suppression.py."""
    out = PulseFigures(available=bool(atoms))
    kept = shown_atoms(atoms, minimum)
    scored = [a for a in kept if a.scale in ("likert", "mood")]
    enps = [a for a in kept if a.scale == "enps"]
    if enough(scored, minimum):
        n = sum(a.n for a in scored)
        out.engagement = 100 * (sum(a.total for a in scored) - n) / (4 * n)
        by_driver: dict[str, list[q.Atom]] = defaultdict(list)
        for a in scored:
            by_driver[a.driver].append(a)
        out.drivers = {d: sum(a.total for a in group) / sum(a.n for a in group) for d, group in by_driver.items() if enough(group, minimum)}
    if enough(enps, minimum):
        out.enps = 100 * (sum(a.promoters for a in enps) - sum(a.detractors for a in enps)) / sum(a.n for a in enps)
    out.suppressed = bool(atoms) and out.engagement is None and out.enps is None
    out.pulse_ids = sorted({a.pulse_id for a in atoms})
    out.question_ids = sorted(a.question_id for a in kept if a.scale in ("likert", "mood", "enps"))
    # The most answers any one shown question got: a floor for how many people answered.
    out.respondents_floor = max((a.n for a in kept), default=0)
    return out


def pulse_figures(s, team: Team, period: Period, minimum: int) -> PulseFigures:
    return combine(q.pulse_atoms(s, team.id, period.start, period.end), minimum)


def quiet_window(period: Period, tz_name: str | None, now: datetime) -> tuple[datetime, datetime]:
    """The 30 days that decide who is quiet: they end now, or at the period's end for a past period.

    Ending at a period end that is still ahead (the rest of this month or quarter) would look at
    days nobody could have been recognised in yet, and count everyone as quiet.
    """
    end = min(now, period.bounds(tz_name)[1])
    return end - timedelta(days=QUIET_DAYS), end


def figures(
    s, team: Team, period: Period, minimum: int, member_ids: list[int], people: int, *, now: datetime, recognition: bool = True
) -> Figures:
    """`recognition=False` skips kudos and quiet contributors (the previous period only needs trends)."""
    start, end = period.bounds(team.timezone)
    pulse = pulse_figures(s, team, period, minimum)
    participation, _ = shown_participation(participation_by_pulse(s, pulse.pulse_ids), minimum)
    rec = q.recognition(s, member_ids, start, end) if recognition else q.Recognition(0, 0, 0, 0)
    quiet = None
    if member_ids and recognition:
        quiet = max(len(member_ids) - q.recognised_people(s, member_ids, *quiet_window(period, team.timezone, now)), 0)
    return Figures(
        period=period,
        pulse=pulse,
        participation=participation,
        recognition=rec,
        kudos_per_person=rec.received / people if people and recognition else None,
        quiet=quiet,
        customer=cx.customer(s, cx.owners(s, team.id), start, end),
    )


@dataclass
class Weekly:
    weeks: list[Period]
    engagement: list[float | None]
    cx: list[float | None]  # share of positive customer feedback, %


def weekly(s, team: Team, today, count: int, minimum: int) -> Weekly:
    """Engagement and CX score per ISO week, oldest first; each week is its own suppression unit."""
    weeks = last_weeks(today, count)
    engagement: list[float | None] = [None] * count
    by_week: dict[int, list[q.Atom]] = defaultdict(list)
    first = weeks[0].start
    for atom in q.pulse_atoms(s, team.id, first, weeks[-1].end):
        by_week[(atom.cycle_date - first).days // 7].append(atom)
    for i, atoms in by_week.items():
        engagement[i] = combine(atoms, minimum).engagement
    bounds = [w.bounds(team.timezone)[0] for w in weeks] + [weeks[-1].bounds(team.timezone)[1]]
    counts = cx.weekly(s, cx.owners(s, team.id), bounds)
    share: list[float | None] = [100 * counts[i][1] / counts[i][0] if i in counts and counts[i][0] else None for i in range(count)]
    return Weekly(weeks, engagement, share)


def comment_summary(s, pulse: PulseFigures) -> tuple[tuple[int, int, int], list[tuple[str, int]]]:
    rows = q.comments(s, pulse.question_ids) if (pulse.engagement is not None or pulse.enps is not None) else []
    return sentiment_split(p for _, p in rows), themes(t for t, _ in rows)
