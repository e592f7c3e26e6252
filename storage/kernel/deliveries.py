"""Idempotency bookkeeping for inbound deliveries and outbound messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlmodel import Session

from storage.kernel.db import added_unless_taken, dialect_insert
from storage.kernel.tables import InboundDelivery, InboundJob, OutboxMessage, utcnow


def claim_inbound(session: Session, key: str) -> bool:
    """Record a delivery key inside the caller's transaction; False when it was already recorded."""
    if session.get(InboundDelivery, key) is not None:
        return False
    return added_unless_taken(session, InboundDelivery(key=key))


def store_outbox(session: Session, key: str, platform: str, destination: str, payload: dict) -> None:
    """Record a message as pending under its key, unless the key is recorded already (one statement)."""
    session.execute(
        dialect_insert(session, OutboxMessage)
        .values(key=key, platform=platform, destination=destination, payload=payload, status="pending", attempts=0, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
    )


def claim_outbox_key(session: Session, key: str, platform: str, destination: str, payload: dict) -> int | None:
    """Store the message under its key unless it is stored already, then move it to `sending` unless
    it was sent or another worker has it; returns the row's id when this caller may send it.
    Two statements and no ORM objects: every message the bot sends passes here."""
    store_outbox(session, key, platform, destination, payload)
    return session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.key == key, OutboxMessage.status.in_(("pending", "failed")))
        .values(status="sending", attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id)
    ).scalar_one_or_none()


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


# -- inbound jobs: requests recorded before their ack ---------------------------------------------------
def record_inbound_jobs(session: Session, rows: list[dict]) -> list[int | None]:
    """Insert accepted requests (key, kind, platform, payload); per row its id, or None when a row
    with that key was recorded before (a redelivery: the first copy is, or was, processed)."""
    now = utcnow()
    ids: list[int | None] = []
    base = dialect_insert(session, InboundJob)
    for row in rows:
        stmt = (
            base.values(key=row["key"], kind=row["kind"], platform=row["platform"], payload=row["payload"],
                        status="accepted", attempts=1, created_at=now, started_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(InboundJob.id)
        )
        ids.append(session.execute(stmt).scalar_one_or_none())
    return ids


def finish_inbound_job(session: Session, job_id: int, *, error: str | None = None) -> None:
    """Mark a job processed and forget what it carried.

    The payload names the person and what they sent (a pulse answer click is "U0ANA clicked 2 on
    question 1"), which is exactly the link the pulses' anonymity design never stores. It is needed
    only until the job has run; afterwards the row keeps its delivery key (so a redelivery is still
    recognised) and, for a failure, the exception's type for operators, never its message.
    """
    values = {"status": "failed", "last_error": error.split(":", 1)[0][:200]} if error is not None else {"status": "done", "last_error": None}
    session.execute(update(InboundJob).where(InboundJob.id == job_id).values(finished_at=utcnow(), payload={}, **values))


def claim_stale_inbound_jobs(session: Session, *, started_before: datetime, max_attempts: int, limit: int = 1000) -> list[InboundJob]:
    """Accepted rows whose processing started before `started_before` (their process stopped), claimed
    for this process by moving `started_at` on; rows out of attempts are marked failed instead."""
    rows = list(
        session.execute(
            select(InboundJob).where(InboundJob.status == "accepted", InboundJob.started_at < started_before).order_by(InboundJob.id).limit(limit)
        ).scalars()
    )
    claimed = []
    now = utcnow()
    for row in rows:
        if row.attempts >= max_attempts:
            session.execute(update(InboundJob).where(InboundJob.id == row.id).values(status="failed", finished_at=now, payload={}, last_error="gave up after repeated interruptions"))
            continue
        result = session.execute(
            update(InboundJob)
            .where(InboundJob.id == row.id, InboundJob.status == "accepted", InboundJob.started_at < started_before)
            .values(started_at=now, attempts=InboundJob.attempts + 1)
        )
        if result.rowcount == 1:
            claimed.append(row)
    return claimed


def purge_inbound_jobs(session: Session, *, finished_before: datetime) -> int:
    """Processed rows are only bookkeeping once Slack stopped retrying (minutes); keep a day."""
    return session.execute(delete(InboundJob).where(InboundJob.status == "done", InboundJob.finished_at < finished_before)).rowcount
