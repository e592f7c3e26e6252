"""Engine creation with the per-backend settings the rest of the code relies on, and write units.

A write unit (`write_unit`, `run_write`, `write`) is one short transaction that must commit: the
writes that follow an interaction the platform was already told we received (a pulse answer) and
the fan-out's delivery bookkeeping. On SQLite it starts with `BEGIN IMMEDIATE`, so it takes the
write lock up front and waits for it under the busy timeout. A plain (deferred) transaction that
reads first and writes later cannot wait: if another connection committed in between, SQLite
answers the upgrade with "database is locked" at once (its snapshot is stale), and the answer was
lost. Only write units begin IMMEDIATE — a session held across an `await` must never hold the
write lock, or every writer in the process stalls behind it — and the retrying helpers take a plain
function, so the unit cannot contain an `await` at all. Retryable failures (SQLite busy/locked,
PostgreSQL serialisation failures and deadlocks) are retried on a fresh transaction until the
unit commits or the budget is spent; then `WriteFailed` tells the caller to tell the person.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, create_engine

log = logging.getLogger(__name__)

T = TypeVar("T")

# Execution option marking a write unit's connection (read by the SQLite "begin" hook below).
WRITE_UNIT = "pulsebridge_write_unit"
# How long the retrying helpers keep trying a unit before giving up with WriteFailed. Each SQLite
# attempt also waits up to the busy timeout for the write lock before it counts as failed.
WRITE_RETRY_SECONDS = 20.0
SQLITE_BUSY_TIMEOUT_MS = 30000
# PostgreSQL SQLSTATEs that mean "run the transaction again": serialization_failure, deadlock_detected.
PG_RETRYABLE = {"40001", "40P01"}
SQLITE_RETRYABLE = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (primary codes; extended ones are masked)


class WriteFailed(Exception):
    """A write unit did not commit within its retry budget; nothing of it was stored."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - exercised by every SQLite test
            cursor = dbapi_connection.cursor()
            # Foreign keys are off by default in SQLite; WAL lets the scheduler read while a request writes.
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()
            # pysqlite only emits BEGIN before the first INSERT/UPDATE, so a SAVEPOINT issued first
            # (claim_inbound's begin_nested) opened its own transaction and RELEASE committed it:
            # a handler that failed later still left its delivery key behind. Let SQLAlchemy
            # begin transactions itself (the recipe in SQLAlchemy's pysqlite docs).
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - exercised by every SQLite test
            # Write units take the write lock at BEGIN (waiting under busy_timeout); everything
            # else stays deferred so long-lived readers never block writers.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_UNIT) else "BEGIN")

        return engine
    return server_engine(url, pool_size=10, max_overflow=10)


# A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 2.0


def server_engine(url, **pool_options) -> Engine:
    """A PostgreSQL engine whose pool replaces connections the server dropped (a restart, a fail-over,
    an idle timeout) before anyone uses them, pinging only those that sat idle.

    SQLAlchemy's `pool_pre_ping` pings at every checkout: a round trip per transaction. A paced
    fan-out checks out three connections per message, and those pings were a third of its database
    time: on PostgreSQL a 20,000-person fan-out at 100/s managed ~60/s beside 50 /kudos/s
    (benchmarks/pulse_open_probe.py: 3,191 DMs in the first minute with pings at every checkout,
    4,428 without). A connection in steady use was checked in moments ago, so it is alive; one
    that was idle gets the same ping as before, and a dead one is discarded and the checkout retried
    (SQLAlchemy's DisconnectionError protocol).
    """
    from sqlalchemy import exc

    engine = create_engine(url, **pool_options)

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection, record):
        record.info["pulsebridge_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        since = record.info.get("pulsebridge_idle_since")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure of the ping means: use another connection
            raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error
        if not alive:
            raise exc.DisconnectionError("pooled connection failed its ping")

    return engine


def session(engine: Engine) -> Session:
    # expire_on_commit=False: objects returned from a unit of work stay readable after it commits.
    return Session(engine, expire_on_commit=False)


_writers: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()


class _WriteGate:
    """One SQLite write unit at a time in this process, urgent ones first.

    SQLite has one writer; its busy handler makes a waiting connection sleep and poll (1, 2, 5 …
    100 ms), so under load a short unit can wait seconds while others keep winning the lock. Here
    the threads of one process queue on a condition instead: the lock passes on the moment it is
    released, and an urgent unit (recording a request before its ack) goes before the handlers'
    units. Other processes on the same file still meet SQLite's own lock and busy timeout.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._urgent = 0

    @contextmanager
    def hold(self, urgent: bool) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner != me:
                if urgent:
                    self._urgent += 1
                try:
                    while self._owner is not None or (not urgent and self._urgent):
                        self._cond.wait()
                finally:
                    if urgent:
                        self._urgent -= 1
                self._owner = me
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._cond.notify_all()


_gates: WeakKeyDictionary[Engine, _WriteGate] = WeakKeyDictionary()
_gates_lock = threading.Lock()


def _gate(engine: Engine) -> _WriteGate | None:
    if engine.dialect.name != "sqlite":
        return None
    with _gates_lock:
        gate = _gates.get(engine)
        if gate is None:
            gate = _gates[engine] = _WriteGate()
        return gate


def _writer(engine: Engine) -> Engine:
    """The same engine and pool, with connections marked as write units."""
    writer = _writers.get(engine)
    if writer is None:
        writer = _writers[engine] = engine.execution_options(**{WRITE_UNIT: True})
    return writer


@contextmanager
def write_unit(engine: Engine, *, urgent: bool = False) -> Iterator[Session]:
    """One write transaction, committed on exit (rolled back on an exception).

    Keep it short and never `await` inside it: on SQLite it holds the database's write lock from
    its first statement to its end. Use `run_write`/`write` when the unit must be retried.
    `urgent`: on SQLite, go before other waiting units of this process (see _WriteGate).
    """
    gate = _gate(engine)
    if gate is None:
        with Session(_writer(engine), expire_on_commit=False) as s, s.begin():
            yield s
        return
    with gate.hold(urgent), Session(_writer(engine), expire_on_commit=False) as s, s.begin():
        yield s


def is_retryable(exc: BaseException) -> bool:
    """A lock/serialisation failure after which running the same transaction again can succeed."""
    if not isinstance(exc, DBAPIError) or exc.connection_invalidated:
        return False
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in PG_RETRYABLE:
        return True
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in SQLITE_RETRYABLE
    message = str(orig).lower()
    return "database is locked" in message or "database table is locked" in message


def _backoff(attempt: int) -> float:
    return min(0.5, 0.01 * 2**attempt) * (0.5 + random.random())


def _attempts(engine: Engine, work: Callable[[Session], T], budget: float | None, urgent: bool = False):
    """Yields a back-off delay after each retryable failure; returns work's result via StopIteration."""
    deadline = time.monotonic() + (WRITE_RETRY_SECONDS if budget is None else budget)
    attempt = 0
    while True:
        try:
            with write_unit(engine, urgent=urgent) as s:
                return work(s)
        except DBAPIError as exc:
            if not is_retryable(exc):
                raise
            attempt += 1
            if time.monotonic() >= deadline:
                log.error("write unit gave up after %d attempt(s): %s", attempt, exc.orig)
                raise WriteFailed(str(exc.orig)) from exc
            log.warning("write unit attempt %d failed (%s); retrying", attempt, exc.orig)
            yield _backoff(attempt)


def run_write(engine: Engine, work: Callable[[Session], T], *, budget: float | None = None, urgent: bool = False) -> T:
    """Run `work(session)` in a write unit until it commits; WriteFailed once `budget` seconds are spent.

    For worker threads (the fan-out). `work` may raise any other exception to abort: nothing is stored.
    """
    attempts = _attempts(engine, work, budget, urgent)
    try:
        while True:
            time.sleep(next(attempts))
    except StopIteration as done:
        return done.value


async def write(engine: Engine, work: Callable[[Session], T], *, budget: float | None = None) -> T:
    """`run_write` for handlers on the event loop: back-offs are `asyncio.sleep`s, and `work` is a
    plain function, so the unit can never span an await.

    Each attempt runs on the loop itself, as the handlers' transactions always did: a click's write
    has committed before the next request is handled (a comment right after an answer finds it). On
    SQLite the wait for the write lock is bounded by the other units' length, since no unit awaits.
    """
    attempts = _attempts(engine, work, budget)
    try:
        while True:
            await asyncio.sleep(next(attempts))
    except StopIteration as done:
        return done.value


# Threads per backend for database work taken off an event loop by the paced senders (the pulse
# fan-out, reminders, the outbox's bookkeeping). Measured with benchmarks/pulse_open_probe.py
# (20,000 people at 100 DMs/s beside 50 /kudos/s on 2 cores), 2 threads against 6:
# - PostgreSQL: every statement is Python work for psycopg, so more threads are more contenders for
#   the GIL the HTTP loop needs for each socket read: /kudos ack p50 35 ms / p99 230 ms with 2,
#   95 / 482 ms with 6 (and 612 ms p50 with asyncio's default pool and a new Slack connection per
#   message). The fan-out then yields to requests (3,255 DMs in the first minute against 4,639);
#   alone it still keeps the pace (benchmarks/pulse_fanout.py: 1.06 of the floor).
# - SQLite: commits wait on the disk with the GIL released, and six overlap them better: 4,367 DMs
#   and ack p99 218 ms with 6, 3,451 and 350 ms with 2; 1,000 reminders at 100/s 1.094-1.095 of the
#   floor with 6, 1.106-1.187 with 2.
DB_THREADS = {"postgresql": 2, "sqlite": 6}
_thread_pools: dict[tuple[str, str], concurrent.futures.ThreadPoolExecutor] = {}
_thread_pools_lock = threading.Lock()


async def in_db_thread(engine: Engine, purpose: str, fn: Callable[..., T], *args, **kwargs) -> T:
    """Run `fn(*args, **kwargs)` on the threads kept for `purpose` on `engine`'s backend (one pool
    per purpose, so one sender's queue of work never waits behind another's)."""
    backend = engine.dialect.name
    with _thread_pools_lock:
        pool = _thread_pools.get((purpose, backend))
        if pool is None:
            pool = _thread_pools[(purpose, backend)] = concurrent.futures.ThreadPoolExecutor(
                DB_THREADS.get(backend, 2), thread_name_prefix=f"pulsebridge-{purpose}-{backend}")
    return await asyncio.get_running_loop().run_in_executor(pool, lambda: fn(*args, **kwargs))


def added_unless_taken(session: Session, row) -> bool:
    """Add and flush `row` in a savepoint; False, with the savepoint rolled back and the rest of the
    transaction intact, when a unique key it needs is taken already.

    Also the race between two transactions inserting the same key at once: on PostgreSQL the second
    insert waits for the first and then fails here, and the caller reads the first's row instead.
    """
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def dialect_insert(session: Session, table):
    """INSERT for the session's backend, with its ON CONFLICT clauses (`on_conflict_do_nothing`);
    PostgreSQL and SQLite spell them alike."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
