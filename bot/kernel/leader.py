"""Exactly one replica runs the scheduler: the one holding the lease in the shared database.

APScheduler 3 cannot share a job store between running schedulers, so standbys do not start
theirs at all. The leader renews its lease every third of its length; a standby tries every
second and takes over once the lease expired (a crashed leader: within ttl + 1 s) or was
released (a leader stopping on SIGTERM: within about a second). A leader that cannot
renew steps down on its own clock *before* the lease can expire in the database, so two
schedulers never run at once even if the leader is cut off from the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.engine import Engine

from storage.kernel.leases import release, try_acquire

log = logging.getLogger(__name__)

LEASE = "scheduler"
STANDBY_POLL = 1.0  # seconds


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaderElection:
    def __init__(self, engine: Engine, *, ttl: float, on_elected: Callable[[], Awaitable[None]], on_deposed: Callable[[], Awaitable[None]],
                 name: str = LEASE):
        self.engine = engine
        self.name = name
        self.holder = holder_id()
        self.ttl = ttl
        self.every = ttl / 3
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.leader = False
        self._valid_until = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="leader-election")

    async def _attempt(self) -> bool:
        try:
            return await asyncio.wait_for(asyncio.to_thread(try_acquire, self.engine, self.name, self.holder, self.ttl), self.every)
        except Exception as exc:  # noqa: BLE001 - the database may be away for a while; try again
            log.warning("scheduler lease: cannot reach the database (%s)", type(exc).__name__)
            return False

    async def _run(self) -> None:
        while True:
            sent = time.monotonic()
            if await self._attempt():
                # The database set expires_at >= sent + ttl; stepping down by here leaves room for
                # one more slow attempt (<= every) before that moment.
                self._valid_until = sent + self.ttl - 2 * self.every
                if not self.leader:
                    self.leader = True
                    log.info("scheduler lease taken by %s: starting the scheduler", self.holder)
                    await self.on_elected()
            elif self.leader and time.monotonic() >= self._valid_until:
                await self._step_down("could not renew the scheduler lease")
            if self.leader:
                pause = max(0.0, min(self.every, self._valid_until - time.monotonic()))
            else:
                # Standbys ask often (one cheap statement) so a released lease is picked up at once.
                pause = min(self.every, STANDBY_POLL)
            await asyncio.sleep(pause)

    async def _step_down(self, why: str) -> None:
        self.leader = False
        log.warning("%s: stopping the scheduler", why)
        await self.on_deposed()

    async def stop(self) -> None:
        """Stop campaigning and hand the lease over at once (call after the scheduler stopped)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.leader:
            self.leader = False
            try:
                await asyncio.to_thread(release, self.engine, self.name, self.holder)
            except Exception as exc:  # noqa: BLE001 - it expires on its own within ttl
                log.warning("scheduler lease not released (%s); it expires within %.0fs", type(exc).__name__, self.ttl)
