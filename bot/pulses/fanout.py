"""Sending a pulse to everyone exactly once, at the pace the platforms allow.

Each (pulse, person) has a delivery row written before anything is sent. A worker claims the row
(pending → sending, stamped with this process's token), sends, then marks it sent. The only
window where we cannot know the truth is a crash between the platform accepting the message and
the row being marked: on the next start, rows still `sending` under another token are
reconciled. Slack DMs carry the delivery marker as message metadata, so we look for it in the DM
history and mark the row sent when found (exactly once). Teams offers no history API to bots; there
such a row is sent again (at least once), which at worst shows the same card twice — the answers
still dedupe on the respondent key.

Pacing: one smooth token bucket per platform at 95% of PULSEBRIDGE_SEND_RATE messages/s
plus, on Teams, 7 messages/s per conversation. A Slack 429 comes back to us (RateLimited) rather
than being waited out inside slack_sdk: the message waits Retry-After and then takes a pacer token
like any other send, so retries never pile on top of the pace. A send that fails for another
reason goes back in the queue and is retried, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary
from datetime import datetime

from sqlalchemy import update

from bot.directory.lookup import user_ref
from bot.kernel.metrics import PULSE_DELIVERIES
from bot.kernel.outbox import send_paced
from bot.kernel.ports import DirectMessage, handle_to_ref
from bot.pulses.render import question_message, zone
from storage.kernel.db import WriteFailed, in_db_thread, run_write, session, write
from storage.pulses.tables import Pulse, PulseDelivery
from storage.pulses.queries import (
    answers_of,
    claim_delivery,
    due_delivery_ids,
    finish_delivery,
    questions_of,
    release_delivery,
    stuck_deliveries,
)
from storage.directory.tables import Team, User
from bot.pulses.anonymity import key_of

log = logging.getLogger(__name__)

# Identifies this process's claims; rows `sending` under any other token were left by a crash.
PROCESS_TOKEN = uuid.uuid4().hex
MAX_ATTEMPTS = 10
RETRIES_PER_RUN = 3
TEAMS_PER_CONVERSATION_RATE = 7.0
# Pace a little under the configured limit: platforms count in sliding windows, and a send that
# lands on a window edge costs a 429 and a whole Retry-After second.
HEADROOM = 0.95


def marker_of(delivery_id: int) -> str:
    return f"pulse-delivery:{delivery_id}"


class Pacer:
    """A token bucket refilled at `rate`/s holding at most a tiny burst, decided at the real send time.

    Smooth spacing matters more than the average: platforms count in sliding windows, and a
    burst whose requests arrive with different latencies overruns the window at its edges.
    Tokens are taken when a send actually starts, so a worker delayed by the event loop or the
    database cannot bunch up with the next one.
    """

    def __init__(self, rate: float):
        self.rate = rate
        self.capacity = max(1.0, rate * 0.02)
        self._tokens = 1.0
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        while True:
            async with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                delay = (1.0 - self._tokens) / self.rate
            await asyncio.sleep(delay)


class KeyedPacer:
    """One Pacer per key (a Teams conversation), created on demand."""
    def __init__(self, rate: float):
        self.rate = rate
        self._pacers: dict[str, Pacer] = {}

    async def wait(self, key: str) -> None:
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = Pacer(self.rate)
        await pacer.wait()


@dataclass
class FanoutReport:
    sent: int = 0
    failed: int = 0
    reconciled: int = 0
    resent_after_crash: int = 0
    rate_limited: int = 0
    errors: list[str] = field(default_factory=list)


# Per core, shared by scheduled fan-outs, ad-hoc pulses and reminders running at the same time.
_pacers: WeakKeyDictionary = WeakKeyDictionary()


def platform_pacer(core, platform: str) -> Pacer:
    pacers = _pacers.setdefault(core, {})
    if platform not in pacers:
        pacers[platform] = Pacer(core.settings.PULSEBRIDGE_SEND_RATE * HEADROOM)
    return pacers[platform]


def conversation_pacer(core) -> KeyedPacer:
    pacers = _pacers.setdefault(core, {})
    if "teams-conversations" not in pacers:
        pacers["teams-conversations"] = KeyedPacer(TEAMS_PER_CONVERSATION_RATE * HEADROOM)
    return pacers["teams-conversations"]


class MessageCache:
    """Pulse, questions and team name per pulse, loaded once per fan-out run."""
    def __init__(self, core):
        self.core = core
        self._pulses: dict[int, tuple[Pulse, dict, str]] = {}

    def get(self, s, pulse_id: int):
        if pulse_id not in self._pulses:
            pulse = s.get(Pulse, pulse_id)
            team = s.get(Team, pulse.team_id)
            self._pulses[pulse_id] = (pulse, questions_of(s, pulse_id), team.name if team else "your team")
        return self._pulses[pulse_id]


def delivery_message(core, s, cache: MessageCache, delivery: PulseDelivery, user: User, *, reminder: bool = False):
    pulse, questions, team_name = cache.get(s, delivery.pulse_id)
    team = s.get(Team, pulse.team_id)
    asked = [questions[k] for k in delivery.question_keys if k in questions]
    answers = {}
    # By key, not by the `answered` flag: the flag is flipped in batches, well after the answer.
    if core.settings.PULSEBRIDGE_SECRET_KEY:
        answers = answers_of(s, pulse.id, key_of(core.settings.PULSEBRIDGE_SECRET_KEY, s, user, pulse.id))
    tz = zone(user.timezone, team.timezone if team else "UTC")
    return question_message(pulse, team_name, asked, answers, tz, reminder=reminder)


async def reconcile(core, report: FanoutReport) -> None:
    """Settle rows a crashed process left in `sending` before anything new goes out."""
    with session(core.engine) as s:
        stuck = [(d, s.get(User, d.user_id)) for d in stuck_deliveries(s, PROCESS_TOKEN)]
    for delivery, user in stuck:
        adapter = core.adapters.get(delivery.platform)
        if adapter is None:
            continue
        handle = None
        find = getattr(adapter, "find_marked", None)
        if find is not None:
            try:
                handle = await find(DirectMessage(user_ref(user)), marker_of(delivery.id))
            except Exception as exc:  # noqa: BLE001 - cannot verify: prefer a duplicate card over a lost question
                log.warning("could not check whether pulse delivery %s was sent (%s); sending again", delivery.id, exc)
        if handle is not None:
            ref = handle_to_ref(handle)
            await write(core.engine, lambda s, d=delivery.id, r=ref: finish_delivery(s, d, platform_ref=r))
            report.reconciled += 1
        else:
            await write(core.engine, lambda s, d=delivery.id: release_delivery(s, d))
            report.resent_after_crash += 1


async def fan_out(core, now: datetime | None = None, pulse_id: int | None = None, concurrency: int | None = None, follow: bool = False) -> FanoutReport:
    """Send every due, unsent delivery (optionally of one pulse); returns what happened.

    `follow`: when the due ones are done, look again (at the clock's new time) and send what came
    due meanwhile, until nothing new is due: the scheduled send step runs one instance at a time,
    so what falls due during a long fan-out would otherwise wait for it to end and a minute more.
    Each delivery is tried at most RETRIES_PER_RUN times per call; the next call retries the rest.
    """
    now = now or core.clock()
    report = FanoutReport()
    await reconcile(core, report)
    cache = MessageCache(core)
    workers = concurrency or max(4, min(64, int(core.settings.PULSEBRIDGE_SEND_RATE * 2)))
    seen: set[int] = set()
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()

    async def worker() -> None:
        while True:
            try:
                delivery_id, tries = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            ok = await _deliver(core, cache, delivery_id, report)
            if ok is False and tries + 1 < RETRIES_PER_RUN:
                await asyncio.sleep(min(30, 2 ** tries))
                queue.put_nowait((delivery_id, tries + 1))

    while True:
        with session(core.engine) as s:
            ids = [i for i in due_delivery_ids(s, now, MAX_ATTEMPTS, pulse_id) if i not in seen]
        if not ids:
            return report
        seen.update(ids)
        for delivery_id in ids:
            queue.put_nowait((delivery_id, 0))
        await asyncio.gather(*(worker() for _ in range(min(workers, len(ids)))))
        if not follow:
            return report
        now = core.clock()


def _prepare(core, cache: MessageCache, delivery_id: int):
    """Load, render and claim one delivery (runs in a worker thread: SQLite commits must not stall the pacer)."""
    with session(core.engine) as s:
        delivery = s.get(PulseDelivery, delivery_id)
        if delivery is None or delivery.status not in ("pending", "failed") or delivery.platform not in core.adapters:
            return None
        user = s.get(User, delivery.user_id)
        left = user is None or not user.active
        message = None if left else delivery_message(core, s, cache, delivery, user)
    if left:
        # They left (directory sync deactivated them) after the pulse was planned: stop, don't send.
        # A write unit of its own: upgrading the read above to a write fails at once on SQLite
        # ("database is locked") when another writer committed in between.
        run_write(
            core.engine,
            lambda s: s.execute(
                update(PulseDelivery)
                .where(PulseDelivery.id == delivery_id, PulseDelivery.status.in_(("pending", "failed")))
                .values(status="expired")
            ),
        )
        PULSE_DELIVERIES.labels(delivery.platform, "skipped_inactive").inc()
        return None
    if not run_write(core.engine, lambda s: claim_delivery(s, delivery_id, PROCESS_TOKEN)):
        return None
    return delivery, user, message


def _finish(core, delivery_id: int, **outcome) -> None:
    """Record a send's outcome; retried until it commits (the message is out: the row must say so)."""
    try:
        run_write(core.engine, lambda s: finish_delivery(s, delivery_id, **outcome))
    except WriteFailed:
        # The row stays `sending` under this process's token: never re-sent by this process, and
        # reconciled by the next one (Slack: found by its marker, so still exactly once).
        log.error("pulse delivery %s: outcome %s could not be recorded", delivery_id, outcome)


async def _send_paced(core, adapter, delivery: PulseDelivery, user: User, message, report: FanoutReport):
    """Send once a pacer token is free; a 429 waits Retry-After and then queues for a token again,
    so retries count against our own pace instead of overrunning the platform's next window."""

    async def pace() -> None:
        # Right before the request, after the database work, so the pacer sees real send times.
        await platform_pacer(core, delivery.platform).wait()
        if delivery.platform == "teams":
            await conversation_pacer(core).wait(user.external_id)

    def rate_limited() -> None:
        report.rate_limited += 1

    return await send_paced(adapter, DirectMessage(user_ref(user)), message, marker_of(delivery.id), pace, rate_limited)


async def _deliver(core, cache: MessageCache, delivery_id: int, report: FanoutReport) -> bool | None:
    """True sent, False failed (retry), None nothing to do (already sent, expired, no adapter)."""
    try:
        prepared = await in_db_thread(core.engine, "fanout", _prepare, core, cache, delivery_id)
    except WriteFailed as exc:  # could not claim the row: nothing was sent, so try it again later
        log.warning("pulse delivery %s could not be claimed: %s", delivery_id, exc)
        report.errors.append(str(exc))
        return False
    if prepared is None:
        return None
    delivery, user, message = prepared
    try:
        handle = await _send_paced(core, core.adapters[delivery.platform], delivery, user, message, report)
    except Exception as exc:  # noqa: BLE001 - recorded on the row; retried in this run or the next tick
        log.warning("pulse delivery %s to %s failed: %s", delivery_id, user.external_id, exc)
        await in_db_thread(core.engine, "fanout", _finish, core, delivery_id, error=f"{type(exc).__name__}: {exc}")
        PULSE_DELIVERIES.labels(delivery.platform, "failed").inc()
        report.failed += 1
        report.errors.append(str(exc))
        return False
    await in_db_thread(core.engine, "fanout", _finish, core, delivery_id, platform_ref=handle_to_ref(handle))
    PULSE_DELIVERIES.labels(delivery.platform, "sent").inc()
    report.sent += 1
    return True
