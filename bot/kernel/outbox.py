"""Sending through the outbox: each message has a stored key, so a retry never sends it twice.

A row moves pending → sending → sent, or → failed (retried later with what it stored). A row left
in `sending` by a crash is not resent automatically: the platform may already show it, and a
duplicate celebration is the failure users notice most. Those rows stay visible for operators.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import timedelta

from sqlalchemy.engine import Engine

from bot.kernel.events import MessageHandle
from bot.kernel.messages import Message
from bot.kernel.metrics import OUTBOX_MESSAGES
from bot.kernel.ports import ChatAdapter, Destination, NotInChannel, Outbound, RateLimited, describe, destination_platform, handle_to_ref
from bot.kernel.serialize import destination_from_data, message_from_data, to_data
from storage.kernel.db import WriteFailed, in_db_thread, run_write, session, write_unit
from storage.kernel.deliveries import claim_outbox_key, finish_outbox, retryable_outbox, store_outbox
from storage.kernel.tables import utcnow

MAX_ATTEMPTS = 5
MAX_RATE_LIMITED = 20  # 429s in a row for one paced message before it counts as a failed attempt

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, engine: Engine, adapters: Mapping[str, ChatAdapter]):
        self.engine = engine
        self.adapters = adapters
        # Called when a channel refuses a post because the bot is not in it (the core tells admins).
        self.on_not_in_channel: Callable[[NotInChannel, Outbound], Awaitable[None]] | None = None

    def store(self, items: Iterable[Outbound]) -> None:
        """Record messages as pending, all in one write unit, before anything else is attempted: a
        failure or crash after this leaves them for `deliver` or the retry job, never forgotten."""
        rows = [
            (item.key, destination_platform(item.destination), describe(item.destination),
             {"destination": to_data(item.destination), "message": to_data(item.message)})
            for item in items
        ]

        def work(s) -> None:
            for key, platform, destination, payload in rows:
                store_outbox(s, key, platform, destination, payload)

        try:
            run_write(self.engine, work, budget=5.0)
        except WriteFailed as exc:  # deliver() stores each row again as it sends it
            log.warning("could not store %d outbound message(s) ahead of sending: %s", len(rows), exc)

    async def deliver(self, items: Iterable[Outbound], refused: list[tuple[Outbound, NotInChannel]] | None = None) -> dict[str, MessageHandle]:
        """Send what has not been sent yet; returns where each message this call sent landed, by key.

        Channel posts refused because the bot is not in the channel are added to `refused`.
        """
        sent: dict[str, MessageHandle] = {}
        for item in items:
            handle = await self.deliver_one(item, refused)
            if handle is not None:
                sent[item.key] = handle
        return sent

    async def deliver_one(self, item: Outbound, refused: list[tuple[Outbound, NotInChannel]] | None = None, *,
                          pace: Callable[[], Awaitable[None]] | None = None) -> MessageHandle | None:
        """Claim, send, record. `pace` (a rate limiter's wait) runs right before the request, after the
        claim's commit, so the database's latency cannot bunch paced requests together; see `send_paced`.
        The marker of a paced send is the row's id: it names nobody."""
        platform = destination_platform(item.destination)
        adapter = self.adapters.get(platform)
        if adapter is None:
            log.warning("no adapter for platform %s; message %s left pending", platform, item.key)
            return None
        payload = {"destination": to_data(item.destination), "message": to_data(item.message)}

        def claim() -> int | None:
            with write_unit(self.engine) as s:
                return claim_outbox_key(s, item.key, platform, describe(item.destination), payload)

        def finish(**outcome) -> None:
            with write_unit(self.engine) as s:
                finish_outbox(s, row_id, **outcome)

        # Off the calling loop: paced senders share one, and each commit on it held them all still.
        row_id = await in_db_thread(self.engine, "outbox", claim)
        if row_id is None:
            return None
        try:
            handle = await (adapter.send(item.destination, item.message) if pace is None
                            else send_paced(adapter, item.destination, item.message, f"outbox:{row_id}", pace))
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the row and retried later
            log.warning("sending %s to %s failed: %s", item.key, describe(item.destination), exc)
            error = f"{type(exc).__name__}: {exc}"
            await in_db_thread(self.engine, "outbox", finish, error=error)
            OUTBOX_MESSAGES.labels(platform, "failed").inc()
            if isinstance(exc, NotInChannel):
                if refused is not None:
                    refused.append((item, exc))
                if self.on_not_in_channel is not None:
                    try:
                        await self.on_not_in_channel(exc, item)
                    except Exception:  # noqa: BLE001 - a notice that fails must not hide the original failure
                        log.exception("could not tell admins about %s", describe(item.destination))
            return None
        await in_db_thread(self.engine, "outbox", finish, platform_ref=handle_to_ref(handle))
        OUTBOX_MESSAGES.labels(platform, "sent").inc()
        return handle

    async def retry(self, *, pending_for: timedelta = timedelta(minutes=1)) -> int:
        """Resend failed messages (up to MAX_ATTEMPTS) and ones a stopped process never sent; returns how many went out."""
        with session(self.engine) as s:
            rows = retryable_outbox(s, max_attempts=MAX_ATTEMPTS, pending_before=utcnow() - pending_for)
            items = []
            for row in rows:
                try:
                    items.append(Outbound(row.key, destination_from_data(row.payload["destination"]), message_from_data(row.payload["message"])))
                except (KeyError, TypeError, ValueError) as exc:
                    log.error("outbox row %s cannot be decoded (%s); left as is", row.key, exc)
        return len(await self.deliver(items))


async def send_paced(adapter: ChatAdapter, destination: Destination, message: Message, marker: str,
                     pace: Callable[[], Awaitable[None]], on_rate_limited: Callable[[], None] | None = None) -> MessageHandle:
    """A bulk send (pulse DMs, reminders) once `pace` gives a token, through the adapter's marked path
    where it has one: there a 429 comes back as RateLimited instead of being slept out and retried at
    once inside the client, unpaced, into the window the pacer's other sends are filling (one such
    retry near the end of a run cost a whole second, and drew more). Here the retry waits
    Retry-After and then queues for a token again, so it counts against our own pace."""
    send_marked = getattr(adapter, "send_marked", None)
    for _ in range(MAX_RATE_LIMITED + 1):
        await pace()
        try:
            if send_marked is None:
                return await adapter.send(destination, message)
            return await send_marked(destination, message, marker)
        except RateLimited as exc:
            last = exc
            if on_rate_limited is not None:
                on_rate_limited()
            await asyncio.sleep(exc.retry_after)
    raise last
