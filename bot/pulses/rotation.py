"""Which questions each person gets in a pulse.

Each person gets `questions_per_pulse` questions; a question comes back to the same person no
sooner than `recur_after_weeks`, eNPS every `enps_every_weeks`. Among eligible questions, drivers
the person was asked about least recently come first, so everyone sweeps all drivers over time;
ties break on a hash of (question, cycle), not of the person: teammates who were asked the same
things get the same questions, so each question can reach the minimum group size and be shown.

Gaps are counted in cycle days, not hours: a delivery is due at the cycle's local time on the
cycle date in each person's own timezone, so the date of that instant in their timezone is the
cycle it belonged to. Comparing instants instead made "12 weeks" 83 days 23 hours across a DST
change or for a member west of the first one, so eNPS was skipped for some teammates only.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta, tzinfo

from bot.pulses.bank import ENPS_SCALE
from bot.pulses.bank import QuestionSpec
from bot.pulses.config import PulseConfig

_NEVER = date.min


def _spread(qid: str, cycle: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{qid}|{cycle}".encode()).digest()[:4], "big")


def pick(
    user_id: int,
    bank: dict[str, QuestionSpec],
    history: dict[str, datetime],
    config: PulseConfig,
    day: date,
    cycle: str,
    tz: tzinfo,
) -> list[str]:
    """Question ids for one person on cycle day `day`.

    `history` maps question id → when they were last asked it (due time of that delivery; naive
    values are UTC); `tz` is the person's timezone, in which each of those instants is dated.
    """
    asked_on = {qid: _local_day(when, tz) for qid, when in history.items() if when}

    def last(qid: str) -> date:
        return asked_on.get(qid, _NEVER)

    def gap(qid: str) -> timedelta:
        return timedelta.max if last(qid) == _NEVER else day - last(qid)

    chosen: list[str] = []
    enps = [qid for qid, q in bank.items() if q.scale == ENPS_SCALE]
    enps_due = [qid for qid in enps if gap(qid) >= timedelta(weeks=config.enps_every_weeks)]
    if enps_due:
        chosen.append(enps_due[0])

    others = [qid for qid, q in bank.items() if q.scale != ENPS_SCALE]
    recur = timedelta(weeks=config.recur_after_weeks)
    eligible = [qid for qid in others if gap(qid) >= recur]
    driver_last: dict[str, date] = {}
    for qid in others:
        d = bank[qid].driver
        driver_last[d] = max(driver_last.get(d, _NEVER), last(qid))

    def order(qid: str):
        return (driver_last[bank[qid].driver], last(qid), _spread(qid, cycle))

    drivers_used: set[str] = set()
    for qid in sorted(eligible, key=order):
        if len(chosen) >= config.questions_per_pulse:
            break
        if bank[qid].driver in drivers_used:
            continue
        chosen.append(qid)
        drivers_used.add(bank[qid].driver)
    if len(chosen) < config.questions_per_pulse:
        # Small banks: repeat the least recently asked rather than send nothing.
        for qid in sorted(others, key=lambda q: (last(q), _spread(q, cycle))):
            if len(chosen) >= config.questions_per_pulse:
                break
            if qid not in chosen:
                chosen.append(qid)
    return chosen


def _local_day(when: datetime, tz: tzinfo) -> date:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(tz).date()
