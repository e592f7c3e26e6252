"""Fixed calendar periods in a team's timezone: ISO week, calendar month, calendar quarter.

Only these fixed buckets are ever shown (no rolling windows), so two figures can never be
"the same period shifted by one day" (see docs/privacy.md, Team health).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.kernel.when import zone

KINDS = ("week", "month", "quarter")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")


@dataclass(frozen=True)
class Period:
    kind: str
    start: date  # inclusive
    end: date  # exclusive

    @property
    def label(self) -> str:
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.isoformat()}..{(self.end - timedelta(days=1)).isoformat()}"  # a goal's start-to-due range

    @property
    def title(self) -> str:
        """The period in words for people: "week of 23 Nov", "December 2026", "Q4 2026" (`label` is for files and keys)."""
        if self.kind == "week":
            return f"week of {self.start.day} {MONTHS[self.start.month - 1][:3]}"
        if self.kind == "month":
            return f"{MONTHS[self.start.month - 1]} {self.start.year}"
        if self.kind == "quarter":
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        last = self.end - timedelta(days=1)
        return f"{self.start.day} {MONTHS[self.start.month - 1][:3]} {self.start.year} to {last.day} {MONTHS[last.month - 1][:3]} {last.year}"

    def previous(self) -> Period:
        return containing(self.kind, self.start - timedelta(days=1))

    def bounds(self, tz_name: str | None) -> tuple[datetime, datetime]:
        return local_midnight(self.start, tz_name), local_midnight(self.end, tz_name)


def local_midnight(day: date, tz_name: str | None) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone(tz_name)).astimezone(UTC)


def containing(kind: str, day: date) -> Period:
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=7))
    if kind == "month":
        start = day.replace(day=1)
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        return Period(kind, start, end)
    if kind == "quarter":
        first = (day.month - 1) // 3 * 3 + 1
        start = date(day.year, first, 1)
        end = date(start.year + (first == 10), (first + 2) % 12 + 1, 1)
        return Period(kind, start, end)
    raise ValueError(f"unknown period {kind!r}")


def last_weeks(today: date, count: int) -> list[Period]:
    """The `count` complete-or-current ISO weeks ending with the one containing `today`, oldest first."""
    current = containing("week", today)
    return [Period("week", current.start - timedelta(weeks=i), current.end - timedelta(weeks=i)) for i in range(count - 1, -1, -1)]


def today_in(now: datetime, tz_name: str | None) -> date:
    return now.astimezone(zone(tz_name)).date()
