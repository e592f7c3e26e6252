"""The core: routes translated events to feature handlers and sends what they produce.

Features register their commands, button actions and forms here; the composition root (bot/app.py)
hands the core its features, so the kernel imports none of them, adapters stay ignorant of features
and features stay ignorant of platforms.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import threading
import zlib
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from bot.kernel.errors import UserFacingError
from bot.kernel.events import ActionInvoked, CommandInvoked, FormSubmitted
from bot.kernel.lifecycle import InFlight
from bot.kernel.metrics import HANDLER_LATENCY, timed
from bot.kernel.messages import Context, Form, Message, Paragraph, Strong
from bot.kernel.feature import Feature
from bot.kernel.orgconfig import OrgConfig
from bot.kernel.outbox import Outbox
from bot.kernel.personal import not_in_channel_notice
from bot.kernel.ports import ChatAdapter, Outbound, Responder
from bot.kernel.scheduler import Scheduler
from bot.kernel.sealed import Sealer
from bot.kernel.serialize import event_from_data, to_data
from bot.kernel.settings import Settings
from storage.kernel.db import WriteFailed, is_retryable, run_write, server_engine
from storage.kernel.deliveries import claim_stale_inbound_jobs, finish_inbound_job, purge_inbound_jobs, record_inbound_jobs

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Outcome:
    """What a handler wants done: answer the actor, open a form, replace the clicked message, send more."""

    reply: Message | None = None
    form: Form | None = None
    update: Message | None = None
    followups: list[Outbound] = field(default_factory=list)


class FormInvalid(UserFacingError):
    """Field-level problems with a submitted form; nothing was stored."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


CommandHandler = Callable[["PulseBridge", CommandInvoked], Awaitable[Outcome]]
ActionHandler = Callable[["PulseBridge", ActionInvoked], Awaitable[Outcome]]
FormHandler = Callable[["PulseBridge", FormSubmitted], Awaitable[Outcome]]
JobHandler = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    summary: str
    usage: str
    handler: CommandHandler
    # True for invocations that answer with a form after work that may be slow (a profile look-up):
    # the responder may then keep the platform's short-lived form trigger alive (Slack: a loading modal).
    opens_form: Callable[[CommandInvoked], bool] | None = None


# What a person sees when their acknowledged click or form could not be stored (the unit rolled back).
WRITE_FAILED = "I couldn't save that just now: the database stayed busy. Nothing was recorded; please try again in a moment."


# What a person sees when their form's handler failed unexpectedly (the error is on the job's row).
FORM_FAILED = "Something went wrong while saving your form, and it may not have been saved. Please check, and try again in a moment."


def error_message(text: str) -> Message:
    return Message(summary=text, blocks=(Paragraph(("⚠️ ", text)),))


# -- how work leaves the HTTP event loop ---------------------------------------------------------------
# Handlers and storage stay synchronous SQLAlchemy (see benchmarks/README.md, "Ack in milliseconds",
# for why not the asyncio extension). They run on a few worker threads, each with an event loop of
# its own: a handler's queries block only its worker, while the HTTP loop keeps verifying, recording
# and acknowledging. Platform objects (adapters, responders) stay on the HTTP loop: every coroutine
# method called on them from a worker is run there (`_OnLoop`), so a bot framework's sessions and
# turn contexts never cross loops.

# Accepted requests not yet finished in this process; past this, requests are refused (503 / "busy,
# try again") rather than accepted and left to wait beyond the platform's patience.
MAX_QUEUED = 2000
MAX_JOB_ATTEMPTS = 3
# Accepted requests processed at once per request lane; the rest wait in arrival order as plain
# tuples. Started all at once, 1,500 waiting /kudos were 20,000 coroutines and 10,000 contexts that
# every full garbage collection walked (100-400 ms each, GIL held, measured in
# benchmarks/pulse_open_probe.py), and they all progressed together, so even the first finished
# only when the last did. Handlers wait on platform calls, so a few at once still overlap those.
LANE_CONCURRENCY = 8


class Busy(Exception):
    """The request was not accepted (queue full or shutting down): ask the platform to retry."""


class WorkPool:
    """A few threads, each running an event loop, where handlers and their queries run."""

    def __init__(self, size: int, name: str = "pulsebridge-work"):
        self.size = size
        self.name = name
        self.home: asyncio.AbstractEventLoop | None = None
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._threads: list[threading.Thread] = []
        self._next = itertools.count()
        self._lock = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            if self._loops:
                return
            for i in range(self.size):
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=f"{self.name}-{i}", daemon=True)
                thread.start()
                self._loops.append(loop)
                self._threads.append(thread)

    def lane_of(self, key: str) -> int:
        """The request lane for a key (a person): lanes 1.., lane 0 is the scheduled jobs'. One person's
        requests always go to the same lane, so they start in the order they arrived."""
        if self.size == 1:
            return 0
        return 1 + zlib.crc32(key.encode()) % (self.size - 1)

    def submit(self, make: Callable[[], Awaitable[T]], lane: int | None = None) -> concurrent.futures.Future[T]:
        """Start `make()` on worker `lane` (default: a request lane in turn). Scheduled jobs use
        lane 0, so the pacers they share live on one loop."""
        self._start()
        if lane is None:
            lane = 0 if self.size == 1 else 1 + next(self._next) % (self.size - 1)
        loop = self._loops[lane % len(self._loops)]

        async def run() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(run(), loop)

    async def run(self, make: Callable[[], Awaitable[T]], lane: int | None = None) -> T:
        """Run `make()` on a worker and wait for it without blocking the calling (HTTP) loop."""
        if self.home is None:
            self.home = asyncio.get_running_loop()
        return await asyncio.wrap_future(self.submit(make, lane))

    async def on_home(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run `make()` on the HTTP loop (from a worker), e.g. to start more work there."""
        home = self.home
        if home is None or asyncio.get_running_loop() is home:
            return await make()

        async def run() -> T:
            return await make()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), home))

    def stop(self) -> None:
        with self._lock:
            for loop in self._loops:
                loop.call_soon_threadsafe(loop.stop)
            for thread in self._threads:
                thread.join(timeout=5)
            self._loops.clear()
            self._threads.clear()


def intake_key(kind: str, event: Any, sealer: Sealer) -> str:
    """The key an accepted request is recorded under: a keyed digest of its delivery key, which a
    platform's retry repeats.

    The row and its key outlive the processing (a redelivery must still find them), and a delivery
    key can name the person: a Teams key is their 1:1 chat's id, so in clear the row would say who
    clicked a pulse answer, and when. The digest is keyed (`Sealer.digest`): a plain hash would let
    anyone holding the database test a guessed key (or a guessed comment) against the row.

    A form's delivery key names the submitted view (Slack: its id and hash), and that stays the same
    when a person corrects the fields a first submission was refused for; the values are digested
    with it, which tells those two submissions apart, while an identical resubmission still finds
    its record.
    """
    content = event.delivery_key
    if kind == "form":
        content = json.dumps([event.delivery_key, event.values, event.metadata], sort_keys=True, default=str)
    return f"{event.platform}:{kind}:{sealer.digest(content)}"


class _OnLoop:
    """A platform object whose coroutine methods always run on the loop it belongs to (the HTTP loop)."""

    def __init__(self, target: Any, pool: WorkPool):
        self._target = target
        self._pool = pool

    @property
    def wrapped(self) -> Any:
        return self._target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not asyncio.iscoroutinefunction(value):
            return value
        pool = self._pool

        async def call(*args: Any, **kwargs: Any) -> Any:
            home = pool.home
            if home is None or home.is_closed() or asyncio.get_running_loop() is home:
                return await value(*args, **kwargs)
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(value(*args, **kwargs), home))

        return call


class Intake:
    """Records accepted requests before their ack: everything waiting is inserted in one write unit,
    so a burst costs one commit.

    On a thread of its own. PostgreSQL: with a small connection pool of its own, so handlers and a
    fan-out holding the main pool's connections cannot delay an ack. SQLite: its write units go
    before the handlers' waiting ones (storage/kernel/db.py `_WriteGate`); transactions that read
    and then write are write units (BEGIN IMMEDIATE) on every path that runs beside it.
    """

    def __init__(self, engine: Engine, pool: WorkPool):
        self.engine = engine
        self.pool = pool
        self._pending: list[tuple[dict, asyncio.Future]] = []
        self._flushing = False
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pulsebridge-intake")
        self._own_engine: Engine | None = None
        if engine.dialect.name != "sqlite":
            self._own_engine = server_engine(engine.url, pool_size=2, max_overflow=2)

    async def record(self, row: dict) -> int | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._pending.append((row, future))
        if not self._flushing:
            self._flushing = True
            loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                rows = [row for row, _ in batch]
                try:
                    ids = await loop.run_in_executor(self._executor, self._insert, rows)
                except Exception as exc:  # noqa: BLE001 - each waiting request is refused (not acked)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), job_id in zip(batch, ids):
                    if not future.done():
                        future.set_result(job_id)
        finally:
            self._flushing = False

    def _insert(self, rows: list[dict]) -> list[int | None]:
        return run_write(self._own_engine or self.engine, lambda s: record_inbound_jobs(s, rows), budget=2.0, urgent=True)

    def close(self) -> None:
        self._executor.shutdown(wait=False)
        if self._own_engine is not None:
            self._own_engine.dispose()


class PulseBridge:
    def __init__(
        self,
        engine: Engine,
        org: OrgConfig,
        adapters: Mapping[str, ChatAdapter] | None = None,
        clock: Callable[[], datetime] | None = None,
        settings: Settings | None = None,
        features: Iterable[Feature] = (),
    ):
        self.engine = engine
        # Process settings for features that need them (schedules); defaults when built bare in tests.
        self.settings = settings if settings is not None else Settings.model_construct()
        self.org = org
        # Lane 0 runs scheduled jobs, lane 1 requests. One request lane on both databases: handlers'
        # select-then-insert units (store_profile) raced each other on PostgreSQL with four lanes
        # (unique violations, benchmarks/README.md), and SQLite has one writer anyway. The HTTP
        # loop never waits for either lane; more request lanes need those units to upsert first.
        self.pool = WorkPool(2)
        self.intake = Intake(engine, self.pool)
        self.sealer = Sealer(self.settings.PULSEBRIDGE_SECRET_KEY)  # accepted requests at rest (bot/kernel/sealed.py)
        self._queued = 0
        self._background: set[asyncio.Task] = set()
        self._waiting: defaultdict[int, deque[tuple[int, str, Any, dict, Responder | None]]] = defaultdict(deque)  # per lane, on the HTTP loop
        self._draining: defaultdict[int, int] = defaultdict(int)  # processors running per lane
        self.adapters: dict[str, ChatAdapter] = {}
        for adapter in (adapters or {}).values():
            self.register(adapter)
        self.outbox = Outbox(engine, self.adapters)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.commands: dict[str, CommandSpec] = {}
        self.actions: dict[str, ActionHandler] = {}
        self.forms: dict[str, FormHandler] = {}
        self.jobs: dict[str, JobHandler] = {}
        self.startup_hooks: list[Callable[[PulseBridge], None]] = []
        self.scheduler: Scheduler | None = None
        # Handlers and jobs running now; a shutdown drains them (see adapters/server.py).
        self.inflight = InFlight()
        self.outbox.on_not_in_channel = self._not_in_channel
        # Tells the organisation's admins something once per key (`await notifier(key, message)`);
        # the directory feature provides it, since only it knows who the admins are as people.
        self.admin_notifier: Callable[[str, Message], Awaitable[int]] | None = None
        # Sections of the Home tab, by order (see bot/kernel/personal.py).
        self.home_sections: list = []
        self.job("outbox.retry", _retry_outbox)
        self.on_startup(lambda core: core.scheduler and core.scheduler.every("outbox-retry", "outbox.retry", seconds=60))
        for feature in features:
            feature.register(self)

    async def _not_in_channel(self, exc, item: Outbound) -> None:
        if self.admin_notifier is None:
            return
        dest = item.destination
        await self.admin_notifier(f"not_in_channel:{dest.platform}:{exc.channel_id}", not_in_channel_notice(self, dest, for_admin=True))

    # -- registration -----------------------------------------------------------------------------
    def register(self, adapter: ChatAdapter) -> None:
        self.adapters[adapter.platform] = _OnLoop(adapter, self.pool)  # type: ignore[assignment]

    def command(self, name: str, summary: str, usage: str, handler: CommandHandler, opens_form: Callable[[CommandInvoked], bool] | None = None) -> None:
        self.commands[name] = CommandSpec(name, summary, usage, handler, opens_form)

    def action(self, action_id: str, handler: ActionHandler) -> None:
        """`action_id` is matched against the part of a button's action id before the first ':'."""
        self.actions[action_id] = handler

    def form(self, form_id: str, handler: FormHandler) -> None:
        self.forms[form_id] = handler

    def on_startup(self, hook: Callable[[PulseBridge], None]) -> None:
        """Run once the scheduler is up (e.g. to (re)define a feature's recurring jobs)."""
        self.startup_hooks.append(hook)

    def start(self, scheduler: Scheduler | None) -> None:
        """Start `scheduler` and run the start-up hooks. They read and write the job store: call
        this off the event loop (adapters/server.py runs it on a database thread)."""
        self.scheduler = scheduler
        if scheduler is not None:
            scheduler.start()
        for hook in self.startup_hooks:
            hook(self)
        if scheduler is not None:
            scheduler.ready = True

    def stop(self) -> None:
        """Stop the scheduler, waiting for its thread: off the event loop, as `start`."""
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None

    def close(self) -> None:
        """After the drain: stop the worker threads."""
        self.pool.stop()
        self.intake.close()

    def job(self, name: str, handler: JobHandler) -> None:
        """A scheduled job handler: `await handler(core, **kwargs)` (see bot/kernel/scheduler.py)."""
        self.jobs[name] = handler

    def help_message(self, unknown: str | None = None) -> Message:
        intro = f"I don't know “{unknown}”. " if unknown else ""
        lines = [Paragraph((Strong(spec.name), " — ", spec.summary)) for spec in self.commands.values()]
        usages = [Context((spec.usage,)) for spec in self.commands.values()]
        return Message(
            summary=f"{intro}Commands: {', '.join(self.commands)}",
            blocks=(Paragraph((intro + "Here is what I can do:",)), *[b for pair in zip(lines, usages) for b in pair]),
        )

    # -- dispatch ---------------------------------------------------------------------------------
    def _route(self, kind: str, event: Any) -> tuple[Callable[[], Awaitable[Outcome]] | None, str, Message | None]:
        """What runs for an event: (call, handler name) or a message to answer with instead."""
        if kind == "command":
            name = event.command.lstrip("/").lower()
            spec = self.commands.get(name)
            if spec is None:
                return None, name, self.help_message(None if name in ("help", "") else event.command)
            if event.raw_text.lower() == "help":
                return None, name, Message(summary=spec.usage, blocks=(Paragraph((spec.summary,)), Context((spec.usage,))))
            return (lambda: spec.handler(self, event)), spec.name, None
        if kind == "action":
            name = event.action_id.split(":", 1)[0]
            handler = self.actions.get(name)
            if handler is None:
                return None, name, error_message("That button is no longer active.")
            return (lambda: handler(self, event)), name, None
        handler = self.forms.get(event.form_id)
        if handler is None:
            return None, event.form_id, error_message("That form is no longer active.")
        return (lambda: handler(self, event)), event.form_id, None

    async def handle_command(self, cmd: CommandInvoked, responder: Responder) -> None:
        await self._run("command", cmd, responder)

    async def handle_action(self, action: ActionInvoked, responder: Responder) -> None:
        await self._run("action", action, responder)

    async def handle_form(self, submission: FormSubmitted, responder: Responder) -> None:
        await self._run("form", submission, responder)

    async def _run(self, kind: str, event: Any, responder: Responder) -> None:
        """Handle an event whose answer the caller waits for (the browser playground's requests):
        on a worker, so this loop keeps acknowledging other requests meanwhile."""
        if not self.inflight.accepting:
            await responder.reply(error_message("pulsebridge is restarting; please try again in a minute. Nothing was saved."))
            return
        async with self.inflight.track():
            lane = self.pool.lane_of(event.actor.external_id)
            await self.pool.run(lambda: self._dispatch(kind, event, _OnLoop(responder, self.pool)), lane=lane)

    async def _dispatch(self, kind: str, event: Any, responder: Responder) -> None:
        call, name, instead = self._route(kind, event)
        if call is None:
            await responder.reply(instead)
            return
        if kind == "command":
            spec = self.commands[name]
            hold = getattr(responder, "hold_form", None)
            if spec.opens_form is not None and hold is not None and spec.opens_form(event):
                await hold()  # slow work before a form: keep the trigger_id alive (a loading modal)
        await self._answer(call, responder, kind, name)

    # -- accepted requests: recorded before the ack, processed once, resumed after a crash ----------
    async def accept(self, kind: str, event: CommandInvoked | ActionInvoked | FormSubmitted, responder_state: dict, *, responder: Responder | None = None) -> bool:
        """Record `event` durably, then process it on a worker; returns once it is recorded, so the
        caller acknowledges only what a crash cannot lose. Raises Busy when it was not accepted.

        A redelivered copy (same delivery key) is recorded once and processed once: False is
        returned for it. `responder_state` is JSON the event's adapter turns back into a responder
        (ChatAdapter.responder). `responder`, when given, answers this first processing instead (a
        modal submission's own HTTP ack): it goes ahead of the lane's queue, since a person watches
        the form's spinner; after a crash the stored state answers the resumed job.
        """
        if not self.inflight.accepting:
            raise Busy("shutting down")
        if self._queued >= MAX_QUEUED:
            raise Busy(f"{self._queued} requests waiting")
        self.inflight.enter()  # before the ack: "nothing in flight" then means every answer was sent
        self._queued += 1
        handed_on = False
        try:
            key = intake_key(kind, event, self.sealer)
            payload = self.sealer.seal(key, {"event": to_data(event), "responder": responder_state})
            job_id = await self.intake.record({"key": key, "kind": kind, "platform": event.platform, "payload": payload})
            if job_id is not None:
                self._spawn(job_id, kind, event, responder_state, responder)
                handed_on = True
        finally:
            if not handed_on:
                self._queued -= 1
                self.inflight.leave()
        return handed_on

    def _spawn(self, job_id: int, kind: str, event: Any, responder_state: dict, live: Responder | None = None) -> None:
        """Queue an accepted job for its person's lane (FIFO, LANE_CONCURRENCY at once; one with a
        live responder first); `accept`'s in-flight count and queue slot are released when it has
        been processed."""
        lane = self.pool.lane_of(event.actor.external_id)
        job = (job_id, kind, event, responder_state, live)
        if live is None:
            self._waiting[lane].append(job)
        else:
            self._waiting[lane].appendleft(job)
        if self._draining[lane] < LANE_CONCURRENCY:
            self._draining[lane] += 1
            task = asyncio.get_running_loop().create_task(self._drain_lane(lane))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _drain_lane(self, lane: int) -> None:
        """Process the lane's waiting jobs one after another until none is left."""
        waiting = self._waiting[lane]
        try:
            while waiting:
                job = waiting.popleft()
                job_id = job[0]
                try:
                    await self.pool.run(lambda job=job: self._process(*job), lane=lane)
                except Exception:
                    log.exception("inbound job %s failed", job_id)
                finally:
                    self._queued -= 1
                    self.inflight.leave()
        finally:
            self._draining[lane] -= 1

    async def _process(self, job_id: int, kind: str, event: Any, responder_state: dict, live: Responder | None = None) -> None:
        error = None
        responder: Responder | None = None
        try:
            adapter = self.adapters.get(event.platform)
            if live is not None:
                responder = _OnLoop(live, self.pool)  # type: ignore[assignment]
            else:
                if adapter is None:
                    raise RuntimeError(f"no adapter for platform {event.platform}")
                responder = adapter.responder(responder_state, event)
            complete = getattr(adapter, "complete", None)
            if complete is not None:
                event = await complete(event, responder_state)  # e.g. Teams' member look-ups, kept out of the ack
            try:
                await self._dispatch(kind, event, responder)
            finally:
                finish = getattr(responder, "finish", None)
                if finish is not None:
                    await finish()  # e.g. a loading modal nothing replaced says something went wrong
        except Exception as exc:  # noqa: BLE001 - recorded on the row for operators, not retried
            log.exception("%s %s: processing failed", kind, getattr(event, "delivery_key", "?"))
            error = f"{type(exc).__name__}: {exc}"
            if kind == "form" and responder is not None:
                # The person pressed Submit and the modal closed: never leave them without a word.
                try:
                    await responder.reply(error_message(FORM_FAILED))
                except Exception:  # noqa: BLE001 - the failure above is what gets recorded
                    log.exception("form %s: could not tell the person it failed", getattr(event, "delivery_key", "?"))
        run_write(self.engine, lambda s: finish_inbound_job(s, job_id, error=error))

    async def resume_accepted(self, *, everything: bool = False) -> int:
        """Process accepted requests whose process stopped before finishing them (start-up, and
        periodically for other replicas); returns how many were taken up."""
        cutoff = datetime.now(UTC) - timedelta(seconds=0 if everything else self.settings.PULSEBRIDGE_RESUME_AFTER_SECONDS)
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(
            None, lambda: run_write(self.engine, lambda s: claim_stale_inbound_jobs(s, started_before=cutoff, max_attempts=MAX_JOB_ATTEMPTS))
        )
        taken = 0
        for row in rows:
            try:
                payload = self.sealer.open(row.key, row.payload)
                event = event_from_data(payload["event"])
            except (KeyError, TypeError, ValueError) as exc:  # Unreadable is a ValueError
                log.error("inbound job %s cannot be decoded (%s); marked failed", row.id, exc)
                problem = f"undecodable: {exc}"
                run_write(self.engine, lambda s, row_id=row.id, problem=problem: finish_inbound_job(s, row_id, error=problem))
                continue
            self.inflight.enter()
            self._queued += 1
            self._spawn(row.id, row.kind, event, payload.get("responder") or {})
            taken += 1
        if taken:
            log.info("resumed %d accepted request(s) left by a stopped process", taken)
        return taken

    async def _answer(self, call: Callable[[], Awaitable[Outcome]], responder: Responder, kind: str, name: str) -> None:
        """Answer the actor first, then send the follow-ups (DMs, channel posts) through the outbox."""
        try:
            with timed(HANDLER_LATENCY, kind, name) as label:
                try:
                    outcome = await call()
                except FormInvalid:
                    label.append("invalid")
                    raise
                except UserFacingError:
                    label.append("refused")
                    raise
                except WriteFailed:
                    label.append("write_failed")
                    raise
                except DBAPIError as exc:
                    label.append("write_failed" if is_retryable(exc) else "error")
                    raise
                except BaseException:
                    label.append("error")
                    raise
                label.append("ok")
        except FormInvalid as exc:
            await responder.form_errors(exc.errors)
            return
        except UserFacingError as exc:
            await responder.reply(error_message(exc.text))
            return
        except WriteFailed:
            # The platform was told we received this; never let it vanish without a word.
            await responder.reply(error_message(WRITE_FAILED))
            return
        except DBAPIError as exc:
            if not is_retryable(exc):
                raise
            log.error("%s %s: write not committed: %s", kind, name, exc.orig)
            await responder.reply(error_message(WRITE_FAILED))
            return
        if outcome.followups:
            # Stored first: if the answer below fails (or the process dies), the follow-ups are
            # still pending rows the outbox sends (now, or on its retry after a restart).
            self.outbox.store(outcome.followups)
        try:
            if outcome.form is not None:
                await responder.open_form(outcome.form)
            if outcome.update is not None:
                try:
                    await responder.update(outcome.update)
                except Exception as exc:  # noqa: BLE001 - what the handler stored is committed; say so another way
                    # The update is the confirmation (a pulse DM showing "Your answer: 9"); when the
                    # platform refuses it, the person must still hear that their click was stored.
                    log.warning("%s %s: could not update the message (%s); replying instead", kind, name, exc)
                    await responder.reply(outcome.update)
            if outcome.reply is not None:
                await responder.reply(outcome.reply)
        finally:
            if outcome.followups:
                refused: list = []
                await self.outbox.deliver(outcome.followups, refused)
                for item, _exc in refused:
                    await responder.reply(not_in_channel_notice(self, item.destination, for_admin=False))


async def _retry_outbox(core: PulseBridge) -> None:
    sent = await core.outbox.retry()
    if sent:
        log.info("outbox: resent %d message(s)", sent)
    # Another replica's accepted requests, if it stopped before processing them; old rows go.
    await core.pool.on_home(core.resume_accepted)
    run_write(core.engine, lambda s: purge_inbound_jobs(s, finished_before=datetime.now(UTC) - timedelta(days=1)))
