"""`pulsebridge export`: a team's aggregates per week, month or quarter, as CSV.

Only numbers leave: counts, averages and percentages, never an answer, a comment, a kudos
text or a name. Pulse-derived cells follow the same minimum group size as /pulse results: a
cell built from fewer answers is left empty and the `note` column says why.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlmodel import Session

from bot.kernel.errors import UserFacingError
from bot.teamhealth.periods import local_midnight, today_in
from storage.teamhealth import team_feedback
from storage.datarights.export import PulseFigures, closed_team_pulses, kudos_counts
from storage.recognition.queries import team_users
from storage.directory.tables import Team

PeriodKind = Literal["week", "month", "quarter"]


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date  # exclusive

    def bounds(self, tz_name: str | None) -> tuple[datetime, datetime]:
        """Midnights in the team's timezone, as /teamhealth counts: "November" is the same range in both."""
        return local_midnight(self.start, tz_name), local_midnight(self.end, tz_name)


def _period_of(kind: PeriodKind, day: date) -> Period:
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return Period(f"{year}-W{week:02d}", start, start + timedelta(days=7))
    if kind == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        return Period(f"{start.year}-{start.month:02d}", start, end)
    quarter = (day.month - 1) // 3
    start = date(day.year, 3 * quarter + 1, 1)
    end = date(day.year + (quarter == 3), (3 * quarter + 3) % 12 + 1, 1)
    return Period(f"{start.year}-Q{quarter + 1}", start, end)


def periods(kind: PeriodKind, count: int, today: date) -> list[Period]:
    """The `count` most recent periods, oldest first, the last one being the period `today` is in."""
    out = [_period_of(kind, today)]
    while len(out) < count:
        out.insert(0, _period_of(kind, out[0].start - timedelta(days=1)))
    return out


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}" if whole else ""


def _avg(values: list[float]) -> str:
    return f"{sum(values) / len(values):.2f}" if values else ""


BASE_COLUMNS = [
    "team",
    "period",
    "start",
    "end",
    "kudos_received",
    "kudos_given",
    "customer_kudos",
    "feedback",
    "feedback_positive",
    "feedback_negative",
    "csat_responses",
    "csat_average",
    "csat_percent",
]


PULSE_COLUMNS = ["pulses", "pulse_invited", "pulse_responded", "participation_percent", "enps"]
AVERAGED = ("likert", "mood")  # 1-5 scales; a driver's average is over these


def _pulse_cells(pulses: list[PulseFigures], floor: int, drivers: list[str]) -> tuple[dict[str, str], list[str]]:
    """Pulse columns for one period; any figure from fewer answers than the minimum group size stays empty."""
    cells = dict.fromkeys(PULSE_COLUMNS[1:], "") | {f"avg_{d}": "" for d in drivers}
    cells["pulses"] = str(len(pulses))
    notes: list[str] = []
    shown = [p for p in pulses if p.responded >= max(p.min_group_size, floor)]
    if shown:
        invited, responded = sum(p.invited for p in shown), sum(p.responded for p in shown)
        cells.update(pulse_invited=str(invited), pulse_responded=str(responded), participation_percent=_pct(responded, invited))
    if len(shown) < len(pulses):
        notes.append(f"participation: {len(pulses) - len(shown)} pulse(s) with fewer respondents than the minimum group size left out")
    values: dict[str, list[int]] = {}
    hidden: dict[str, int] = {}
    for pulse in pulses:
        threshold = max(pulse.min_group_size, floor)
        for q in pulse.questions:
            if q.scale not in (*AVERAGED, "enps"):
                continue
            key = "enps" if q.scale == "enps" else q.driver
            if q.answers >= threshold:
                values.setdefault(key, []).extend(q.values)
            elif q.answers:
                hidden[key] = hidden.get(key, 0) + 1
    for key, got in values.items():
        if not got:
            continue
        if key == "enps":
            promoters, detractors = sum(v >= 9 for v in got), sum(v <= 6 for v in got)
            cells["enps"] = f"{round(100 * (promoters - detractors) / len(got)):+d}"
        else:
            cells[f"avg_{key}"] = _avg(got)
    notes.extend(f"{key}: {n} question(s) with fewer answers than the minimum group size left out" for key, n in sorted(hidden.items()))
    return cells, notes


def team_rows(
    s: Session, slug: str, kind: PeriodKind, count: int, until: date | None, min_group_size: int, *, now: datetime,
    drivers: tuple[str, ...] = (),
) -> tuple[list[str], list[dict[str, str]]]:
    """Rows for the CSV, the last period being the one `until` (default: today in the team's timezone) is in.

    `min_group_size` is the organisation's current minimum (a pulse's own, if higher, wins). `drivers`
    (those of the question bank) always get their `avg_<driver>` column, so the columns are the same
    whatever the data; a driver only the stored answers know is added after them.
    """
    team = s.execute(select(Team).where(Team.slug == slug)).scalar_one_or_none()
    if team is None:
        known = ", ".join(s.execute(select(Team.slug).order_by(Team.slug)).scalars()) or "none configured"
        raise UserFacingError(f"unknown team {slug!r} (known teams: {known})")
    today = until or today_in(now, team.timezone)
    ids = [u.id for u in team_users(s, team.id)[0]]
    owners = team_feedback.owners(s, team.id)
    spans = periods(kind, count, today)
    pulses = {p: closed_team_pulses(s, team.id, p.start, p.end) for p in spans}
    answered = {q.driver for figures in pulses.values() for f in figures for q in f.questions if q.scale in AVERAGED}
    drivers = [*dict.fromkeys(sorted(drivers)), *sorted(answered - set(drivers))]
    rows = []
    for period in spans:
        start, end = period.bounds(team.timezone)
        pulse_cells, notes = _pulse_cells(pulses[period], min_group_size, drivers)
        received, given = kudos_counts(s, ids, start, end)
        cx = team_feedback.customer(s, owners, start, end)
        rows.append(
            {
                "team": slug,
                "period": period.label,
                "start": period.start.isoformat(),
                "end": (period.end - timedelta(days=1)).isoformat(),
                "kudos_received": str(received),
                "kudos_given": str(given),
                "customer_kudos": str(cx.customer_kudos),
                "feedback": str(cx.feedback),
                "feedback_positive": str(cx.positive),
                "feedback_negative": str(cx.negative),
                "csat_responses": str(cx.csat_n),
                "csat_average": f"{cx.csat:.2f}" if cx.csat is not None else "",
                "csat_percent": _pct(cx.csat_good, cx.csat_n),
                **pulse_cells,
                "note": "; ".join(notes),
            }
        )
    return [*BASE_COLUMNS, *PULSE_COLUMNS, *(f"avg_{d}" for d in drivers), "note"], rows


def to_csv(columns: list[str], rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
