"""Idempotency bookkeeping for inbound deliveries and outbound messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.kernel.tables import InboundDelivery, OutboxMessage, utcnow


def claim_inbound(session: Session, key: str) -> bool:
    """Record a delivery key inside the caller's transaction; False when it was already recorded."""
    if session.get(InboundDelivery, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(InboundDelivery(key=key))
    except IntegrityError:
        return False
    return True


def outbox_row(session: Session, key: str, platform: str, destination: str, payload: dict) -> OutboxMessage:
    row = session.execute(select(OutboxMessage).where(OutboxMessage.key == key)).scalar_one_or_none()
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = OutboxMessage(key=key, platform=platform, destination=destination, payload=payload)
            session.add(row)
    except IntegrityError:
        row = session.execute(select(OutboxMessage).where(OutboxMessage.key == key)).scalar_one()
    return row


def claim_outbox(session: Session, row_id: int) -> bool:
    """Move a row to `sending` unless another worker already did or it was sent."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status.in_(("pending", "failed")))
        .values(status="sending", attempts=OutboxMessage.attempts + 1)
    )
    return result.rowcount == 1


def finish_outbox(session: Session, row_id: int, *, platform_ref: str | None = None, error: str | None = None) -> None:
    values = (
        {"status": "failed", "last_error": error[:2000]}
        if error is not None
        else {"status": "sent", "platform_ref": platform_ref, "sent_at": utcnow(), "last_error": None}
    )
    session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))


def retryable_outbox(session: Session, *, max_attempts: int, pending_before: datetime, limit: int = 500) -> list[OutboxMessage]:
    """Failed rows with attempts left, and rows never claimed (the process stopped before sending)."""
    return list(
        session.execute(
            select(OutboxMessage)
            .where(
                or_(
                    (OutboxMessage.status == "failed") & (OutboxMessage.attempts < max_attempts),
                    (OutboxMessage.status == "pending") & (OutboxMessage.created_at < pending_before),
                )
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).scalars()
    )
