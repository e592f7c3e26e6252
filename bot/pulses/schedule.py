"""When pulses open, go out, remind and close.

One APScheduler cron job (`pulses.tick`, every minute, coalesced) drives everything, because
"10:00 on Tuesday" happens at a different instant for each recipient: a team's pulse for a cycle
is created when the first member's local 10:00 arrives, with one delivery row per member due at
*their* 10:00 (directory timezone, team timezone otherwise). Each tick sends what has come due.
After downtime the single coalesced tick sends every overdue delivery once; a cycle whose whole
window passed while we were down is skipped rather than sent late.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from weakref import WeakSet

from bot.pulses import rotation
from bot.pulses.bank import active_questions
from bot.pulses.bank import QuestionSpec
from bot.pulses.config import DAYS, PulseConfig, TeamPulseSchedule
from bot.pulses.fanout import MessageCache, delivery_message, fan_out, platform_pacer
from bot.pulses.render import zone
from bot.directory.lookup import user_ref
from bot.kernel.ports import DirectMessage, Outbound
from storage.kernel.db import session
from storage.pulses.tables import Pulse, PulseDelivery, PulseQuestion
from storage.pulses.queries import close_expired, create_pulse, non_responders, pulse_by_source, question_history, reminders_due, team_by_slug, team_recipients

log = logging.getLogger(__name__)

TICK_JOB_ID = "pulses:tick"
TICK_JOB = "pulses.tick"
_warned_no_secret: WeakSet = WeakSet()


def local_due(day: date, schedule: TeamPulseSchedule, tz_name: str | None, team_tz: str) -> datetime:
    hour, minute = schedule.hour_minute
    return datetime.combine(day, time(hour, minute), tzinfo=zone(tz_name, team_tz))


def weeks_from_anchor(schedule: TeamPulseSchedule, day: date) -> int:
    """Whole Monday-to-Sunday weeks from the anchor's week to `day`'s (negative before it)."""
    monday = day - timedelta(days=day.weekday())
    anchor = schedule.anchor - timedelta(days=schedule.anchor.weekday())
    return (monday - anchor).days // 7


def is_cycle_day(schedule: TeamPulseSchedule, day: date) -> bool:
    """True when a team pulse is due on this (local) date: the right weekday of a cycle week."""
    return day.weekday() == DAYS.index(schedule.day) and weeks_from_anchor(schedule, day) % schedule.every_weeks == 0


def cycle_dates(schedule: TeamPulseSchedule, now: datetime) -> list[date]:
    """Cycle days near `now` (local dates span UTC±14h, so look two days either way)."""
    today = now.date()
    return [day for day in (today + timedelta(days=offset) for offset in range(-3, 3)) if is_cycle_day(schedule, day)]


def question_row(spec: QuestionSpec) -> PulseQuestion:
    return PulseQuestion(
        question_key=spec.id, driver=spec.driver, text=spec.text, scale=spec.scale, choices=list(spec.choices), allow_comment=spec.comment
    )


def remind_at(config: PulseConfig, last_due: datetime, closes: datetime) -> datetime | None:
    if not config.remind_before_hours:
        return None
    at = closes - timedelta(hours=config.remind_before_hours)
    return at if at > last_due else None


def open_due_cycles(core, now: datetime) -> list[int]:
    """Create the pulses whose first local delivery time has come; returns their ids."""
    config = core.org.pulses
    bank = active_questions(config)
    created = []
    for slug, team_cfg in core.org.teams.items():
        schedule = team_cfg.pulse
        if schedule is None or not schedule.enabled:
            continue
        for day in cycle_dates(schedule, now):
            key = f"team:{slug}:{day.isoformat()}"
            with session(core.engine) as s, s.begin():
                if pulse_by_source(s, key) is not None:
                    continue
                team = team_by_slug(s, slug)
                if team is None:
                    continue
                people = team_recipients(s, team.id)
                if not people:
                    continue
                due = {u.id: local_due(day, schedule, u.timezone, team_cfg.timezone) for u in people}
                first, last = min(due.values()), max(due.values())
                closes = last + timedelta(hours=config.open_hours)
                if now < first or now >= closes:
                    continue
                # One day more than the longest gap: members' local dates of one cycle span UTC±14h.
                since = now - timedelta(weeks=max(config.recur_after_weeks, config.enps_every_weeks), days=1)
                history = question_history(s, [u.id for u in people], since)
                picks = {u.id: rotation.pick(u.id, bank, history.get(u.id, {}), config, day, key, zone(u.timezone, team_cfg.timezone)) for u in people}
                keys = list(dict.fromkeys(k for ks in picks.values() for k in ks))
                pulse = create_pulse(
                    s,
                    Pulse(
                        source_key=key, kind="scheduled", team_id=team.id, cycle_date=day, opens_at=first, closes_at=closes,
                        remind_at=remind_at(config, last, closes), min_group_size=config.min_group_size,
                    ),
                    [question_row(bank[k]) for k in keys],
                    [PulseDelivery(user_id=u.id, platform=u.platform, question_keys=picks[u.id], due_at=due[u.id]) for u in people],
                )
                if pulse is not None:
                    created.append(pulse.id)
                    log.info("opened pulse %s for team %s (%d people)", key, slug, len(people))
    return created


async def send_reminders(core, now: datetime) -> int:
    """One reminder per pulse, to everyone it reached who has not answered (outbox keys: at most once each)."""
    count = 0
    with session(core.engine) as s:
        pulses = reminders_due(s, now)
    for pulse in pulses:
        cache = MessageCache(core)
        with session(core.engine) as s:
            items = [
                (d.platform, Outbound(f"pulse:{pulse.id}:reminder:{u.id}", DirectMessage(user_ref(u)), delivery_message(core, s, cache, d, u, reminder=True)))
                for d, u in non_responders(s, pulse.id)
            ]
        for platform, item in items:
            await platform_pacer(core, platform).wait()
            if await core.outbox.deliver_one(item) is not None:
                count += 1
        with session(core.engine) as s, s.begin():
            s.get(Pulse, pulse.id).reminded = True
    return count


async def tick(core, **_kwargs) -> None:
    """The scheduled job: close, open, send what is due, remind."""
    now = core.clock()
    if not core.settings.PULSEBRIDGE_SECRET_KEY:
        if core not in _warned_no_secret:
            _warned_no_secret.add(core)
            log.warning("pulses are off: PULSEBRIDGE_SECRET_KEY is not set, so answers could not be stored anonymously")
        return
    with session(core.engine) as s, s.begin():
        close_expired(s, now)
    open_due_cycles(core, now)
    report = await fan_out(core, now)
    if report.sent or report.failed or report.reconciled or report.resent_after_crash:
        log.info("pulse fan-out: %s", report)
    await send_reminders(core, now)


def schedule_tick(core) -> None:
    if core.scheduler is not None:
        core.scheduler.cron(TICK_JOB_ID, TICK_JOB, timezone="UTC", minute="*")


