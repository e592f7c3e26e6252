"""Sending through the outbox: each message has a stored key, so a retry never sends it twice."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from sqlalchemy.engine import Engine

from bot.events import MessageHandle
from bot.ports import ChatAdapter, Outbound, describe, destination_platform, handle_to_ref
from storage.db import session
from storage.deliveries import claim_outbox, finish_outbox, outbox_row

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, engine: Engine, adapters: Mapping[str, ChatAdapter]):
        self.engine = engine
        self.adapters = adapters

    async def deliver(self, items: Iterable[Outbound]) -> dict[str, MessageHandle]:
        """Send what has not been sent yet; returns where each message this call sent landed, by key."""
        sent: dict[str, MessageHandle] = {}
        for item in items:
            handle = await self.deliver_one(item)
            if handle is not None:
                sent[item.key] = handle
        return sent

    async def deliver_one(self, item: Outbound) -> MessageHandle | None:
        platform = destination_platform(item.destination)
        adapter = self.adapters.get(platform)
        if adapter is None:
            log.warning("no adapter for platform %s; message %s left pending", platform, item.key)
            return None
        with session(self.engine) as s, s.begin():
            row = outbox_row(s, item.key, platform, describe(item.destination))
            if row.status == "sent" or not claim_outbox(s, row.id):
                return None
            row_id = row.id
        try:
            handle = await adapter.send(item.destination, item.message)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the row and retried later
            log.warning("sending %s to %s failed: %s", item.key, describe(item.destination), exc)
            with session(self.engine) as s, s.begin():
                finish_outbox(s, row_id, error=f"{type(exc).__name__}: {exc}")
            return None
        with session(self.engine) as s, s.begin():
            finish_outbox(s, row_id, platform_ref=handle_to_ref(handle))
        return handle
