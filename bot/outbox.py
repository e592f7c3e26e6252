"""Sending through the outbox: each message has a stored key, so a retry never sends it twice."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from sqlalchemy.engine import Engine

from bot.ports import ChatAdapter, Outbound, describe, destination_platform
from storage.db import session
from storage.deliveries import claim_outbox, finish_outbox, outbox_row

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, engine: Engine, adapters: Mapping[str, ChatAdapter]):
        self.engine = engine
        self.adapters = adapters

    async def deliver(self, items: Iterable[Outbound]) -> list[str]:
        """Send what has not been sent yet; returns the keys this call actually sent."""
        sent = []
        for item in items:
            if await self._deliver_one(item):
                sent.append(item.key)
        return sent

    async def _deliver_one(self, item: Outbound) -> bool:
        platform = destination_platform(item.destination)
        adapter = self.adapters.get(platform)
        if adapter is None:
            log.warning("no adapter for platform %s; message %s left pending", platform, item.key)
            return False
        with session(self.engine) as s, s.begin():
            row = outbox_row(s, item.key, platform, describe(item.destination))
            if row.status == "sent" or not claim_outbox(s, row.id):
                return False
            row_id = row.id
        try:
            ref = await adapter.send(item.destination, item.message)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the row and retried later
            log.warning("sending %s to %s failed: %s", item.key, describe(item.destination), exc)
            with session(self.engine) as s, s.begin():
                finish_outbox(s, row_id, error=f"{type(exc).__name__}: {exc}")
            return False
        with session(self.engine) as s, s.begin():
            finish_outbox(s, row_id, platform_ref=ref)
        return True
