"""When pulses open, go out, remind and close.

Four APScheduler cron jobs, every minute, coalesced (STEPS: close, open, send, remind), drive
everything, because "10:00 on Tuesday" happens at a different instant for each recipient: a team's
pulse for a cycle is created when the first member's local 10:00 arrives, with one delivery row per
member due at *their* 10:00 (directory timezone, team timezone otherwise). Each minute sends what
has come due. After downtime the coalesced jobs send every overdue delivery once; a cycle whose
whole window passed while we were down is skipped rather than sent late.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, time, timedelta
from weakref import WeakSet

from sqlalchemy import update

from bot.pulses import rotation
from bot.pulses.bank import active_questions
from bot.pulses.bank import QuestionSpec
from bot.pulses.config import DAYS, PulseConfig, TeamPulseSchedule
from bot.pulses.fanout import MessageCache, delivery_message, fan_out, platform_pacer
from bot.pulses.flags import settle, settle_pulse
from bot.pulses.render import zone
from bot.directory.lookup import user_ref
from bot.kernel.ports import DirectMessage, Outbound
from storage.kernel.db import in_db_thread, session, write_unit
from storage.pulses.tables import Pulse, PulseQuestion
from storage.pulses.queries import add_deliveries, add_questions, add_users, close_expired, insert_pulse, missing_member_users, planned_user_ids, non_responders, pulse_by_source, question_history, reminders_due, team_by_slug, team_recipients

log = logging.getLogger(__name__)

TICK_JOB = "pulses.tick"
# Rows per write unit while planning a pulse: on SQLite each unit holds the one write lock that
# every request's record waits for (1,000 deliveries ≈ 60 ms; 20,000 at once held it 1.2 s).
PLAN_CHUNK = 1000
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
    """Create the pulses whose first local delivery time has come; returns their ids.

    Runs in a thread (see `open_step`). Each team's pulse is planned from a read-only session and
    written in one short write unit of bulk statements: on SQLite the write lock is what every
    request's record and handler waits for, so it must not be held while 20,000 people's questions
    are chosen.
    """
    config = core.org.pulses
    bank = active_questions(config)
    created = []
    for slug, team_cfg in core.org.teams.items():
        schedule = team_cfg.pulse
        if schedule is None or not schedule.enabled:
            continue
        for day in cycle_dates(schedule, now):
            pulse_id = _open_cycle(core, config, bank, slug, team_cfg, day, now)
            if pulse_id is not None:
                created.append(pulse_id)
    return created


def _chunks(items: list):
    for i in range(0, len(items), PLAN_CHUNK):
        yield items[i : i + PLAN_CHUNK]


def _open_cycle(core, config: PulseConfig, bank, slug: str, team_cfg, day: date, now: datetime) -> int | None:
    """Plan one team's pulse for one cycle. The pulse is written as `opening` with its questions,
    its delivery rows follow in units of PLAN_CHUNK, then it becomes `open` (only then does the
    fan-out see it). A planner stopped half-way (a crash) is resumed by the next tick: the people
    without a row yet get theirs, picked as they would have been."""
    schedule = team_cfg.pulse
    key = f"team:{slug}:{day.isoformat()}"
    with session(core.engine) as s:
        existing = pulse_by_source(s, key)
        if existing is not None and existing.status != "opening":
            return None
        team = team_by_slug(s, slug)
        if team is None:
            return None
        missing = missing_member_users(s, team.id)
    for platform, externals in missing.items():
        for chunk in _chunks(externals):
            with write_unit(core.engine) as s:
                add_users(s, {platform: chunk})
    with session(core.engine) as s:
        people = team_recipients(s, team.id)
        planned = planned_user_ids(s, existing.id) if existing is not None else set()
        zones = {u.id: zone(u.timezone, team_cfg.timezone) for u in people}
        due = {u.id: local_due(day, schedule, u.timezone, team_cfg.timezone) for u in people}
        if existing is None:
            if not people:
                return None
            first, last = min(due.values()), max(due.values())
            closes = last + timedelta(hours=config.open_hours)
            if now < first or now >= closes:
                return None
        elif now >= existing.closes_at:  # resumed after its whole window passed: nobody is asked late
            with write_unit(core.engine) as w:
                w.execute(update(Pulse).where(Pulse.id == existing.id, Pulse.status == "opening").values(status="closed"))
            return None
        todo = [u for u in people if u.id not in planned]
        # One day more than the longest gap: members' local dates of one cycle span UTC±14h.
        since = now - timedelta(weeks=max(config.recur_after_weeks, config.enps_every_weeks), days=1)
        history = question_history(s, [u.id for u in todo], since)
    # Teammates with the same history in the same timezone get the same questions (rotation.pick
    # depends on nothing else), so each distinct history is picked once.
    chosen: dict = {}
    picks = {}
    for u in todo:
        seen = history.get(u.id, {})
        memo = (zones[u.id], tuple(sorted(seen.items())))
        if memo not in chosen:
            chosen[memo] = rotation.pick(u.id, bank, seen, config, day, key, zones[u.id])
        picks[u.id] = chosen[memo]
    questions = [question_row(bank[k]) for k in dict.fromkeys(k for ks in picks.values() for k in ks)]
    with write_unit(core.engine) as s:
        if existing is None:
            pulse = insert_pulse(
                s,
                Pulse(
                    source_key=key, kind="scheduled", team_id=team.id, cycle_date=day, opens_at=first, closes_at=closes,
                    remind_at=remind_at(config, last, closes), min_group_size=config.min_group_size, status="opening",
                ),
                questions,
            )
            if pulse is None:  # another process is planning it
                return None
            pulse_id = pulse.id
        else:
            pulse_id = existing.id
            add_questions(s, pulse_id, questions)
    for chunk in _chunks(todo):
        with write_unit(core.engine) as s:
            add_deliveries(s, pulse_id, [dict(user_id=u.id, platform=u.platform, question_keys=picks[u.id], due_at=due[u.id]) for u in chunk])
    with write_unit(core.engine) as s:
        s.execute(update(Pulse).where(Pulse.id == pulse_id, Pulse.status == "opening").values(status="open"))
    log.info("opened pulse %s for team %s (%d people%s)", key, slug, len(planned) + len(todo), f", resumed after {len(planned)}" if planned else "")
    return pulse_id


# Reminders are rendered this many at a time (in a database thread) while earlier ones go out.
REMIND_CHUNK = 50


async def send_reminders(core, now: datetime) -> int:
    """One reminder per pulse, to everyone it reached who has not answered (outbox keys: at most once each)."""
    count = 0
    with session(core.engine) as s:
        pulses = reminders_due(s, now)
    for pulse in pulses:
        count += await _paced_sends(core, _reminders_of(core, pulse.id))
        with write_unit(core.engine) as s:
            s.get(Pulse, pulse.id).reminded = True
    return count


async def _reminders_of(core, pulse_id: int):
    """The pulse's reminders, rendered a chunk at a time off the loop: sending starts after the first
    chunk instead of after all of them (1,000 renders held the first reminder back about a second)."""
    cache = MessageCache(core)
    with session(core.engine) as s:
        todo = non_responders(s, pulse_id)

    def render(chunk):
        with session(core.engine) as s:
            return [
                (d.platform, Outbound(f"pulse:{pulse_id}:reminder:{u.id}", DirectMessage(user_ref(u)), delivery_message(core, s, cache, d, u, reminder=True)))
                for d, u in chunk
            ]

    for i in range(0, len(todo), REMIND_CHUNK):
        for item in await in_db_thread(core.engine, "fanout", render, todo[i : i + REMIND_CHUNK]):
            yield item


async def _paced_sends(core, items) -> int:
    """Paced like the fan-out: a token per send start (taken after the outbox's claim, right before
    the request), sends overlapping up to the same concurrency, so a slow API call does not hold
    back the next one (one at a time gave ~9/s).
    `items` is an async iterator of (platform, Outbound), read as the senders need them."""
    sent = 0
    lock = asyncio.Lock()

    async def worker() -> None:
        nonlocal sent
        while True:
            async with lock:  # one reader of the iterator at a time
                item = await anext(items, None)
            if item is None:
                return
            platform, outbound = item
            if await core.outbox.deliver_one(outbound, pace=platform_pacer(core, platform).wait) is not None:
                sent += 1

    workers = max(4, min(64, int(core.settings.PULSEBRIDGE_SEND_RATE * 2)))
    await asyncio.gather(*(worker() for _ in range(workers)))
    return sent


def _pulses_on(core) -> bool:
    if core.settings.PULSEBRIDGE_SECRET_KEY:
        return True
    if core not in _warned_no_secret:
        _warned_no_secret.add(core)
        log.warning("pulses are off: PULSEBRIDGE_SECRET_KEY is not set, so answers could not be stored anonymously")
    return False


def _close_and_settle(core, now: datetime) -> None:
    with write_unit(core.engine) as s:
        close_expired(s, now)
    settle(core, now)  # a closed pulse's participation is complete: its last flags go out now


async def close_step(core, **_kwargs) -> None:
    """Close pulses whose window ended and release the `answered` flags that are due (bot/pulses/flags.py)."""
    if _pulses_on(core):
        await in_db_thread(core.engine, "pulses", _close_and_settle, core, core.clock())


async def open_step(core, **_kwargs) -> None:
    """Plan the pulses whose first local delivery time has come (on a database thread: the job
    worker's loop keeps pacing the sends of the fan-out and the reminders meanwhile)."""
    if not _pulses_on(core):
        return
    opened = await in_db_thread(core.engine, "pulses", open_due_cycles, core, core.clock())
    if opened and core.scheduler is not None:
        # The send job of this minute has likely run already and found the pulse still being
        # planned: send now, not a minute late (10:00 local must not become 10:01).
        core.scheduler.run_soon(job_id("pulses.send"))


async def send_step(core, **_kwargs) -> None:
    """Send every due delivery, and those that come due while sending (other timezones' 10:00)."""
    if not _pulses_on(core):
        return
    report = await fan_out(core, core.clock(), follow=True)
    if report.sent or report.failed or report.reconciled or report.resent_after_crash:
        log.info("pulse fan-out: %s", report)


def _settle_before_reminders(core, now: datetime) -> None:
    """Flags due because a reminder is about to go out are released first, so the reminder
    reaches only people who have not answered (flags.due)."""
    with session(core.engine) as s:
        ids = [p.id for p in reminders_due(s, now)]
    for pulse_id in ids:
        settle_pulse(core, pulse_id, now)


async def remind_step(core, **_kwargs) -> None:
    if not _pulses_on(core):
        return
    now = core.clock()
    await in_db_thread(core.engine, "pulses", _settle_before_reminders, core, now)
    await send_reminders(core, now)


# Each step is a job of its own, every minute, coalesced and one instance at a time: a fan-out
# to 20,000 people takes minutes at the platforms' rate, and while it runs pulses still close,
# open and remind (as one job, a long fan-out made the next ticks skip everything).
STEPS = {"pulses.close": close_step, "pulses.open": open_step, "pulses.send": send_step, "pulses.remind": remind_step}
OLD_TICK_JOB_ID = "pulses:tick"  # the single job before the split; removed from job stores on start-up


async def tick(core, **_kwargs) -> None:
    """All steps once, in order: close, open, send what is due, remind (tests, and a manual run)."""
    for step in STEPS.values():
        await step(core)


def schedule_steps(core) -> None:
    if core.scheduler is None:
        return
    core.scheduler.remove(OLD_TICK_JOB_ID)
    for name in STEPS:
        core.scheduler.cron(job_id(name), name, timezone="UTC", minute="*")


def job_id(step: str) -> str:
    return step.replace(".", ":")
