"""The scheduler lease: one row per name, taken over only once its holder stopped renewing it.

All times come from the database clock (`now()`), so replicas with skewed clocks still agree.
PostgreSQL only: SQLite means a single process, which is always the leader.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.engine import Engine

from storage.kernel.tables import SchedulerLease


def try_acquire(engine: Engine, name: str, holder: str, ttl_seconds: float) -> bool:
    """Take or renew the lease in one atomic statement; True while `holder` has it."""
    # Here, not at import: a SQLite deployment never elects, and PostgreSQL's dialect costs 2 MB.
    from sqlalchemy.dialects.postgresql import insert

    ttl = timedelta(seconds=ttl_seconds)
    table = SchedulerLease.__table__
    stmt = insert(table).values(name=name, holder=holder, acquired_at=func.now(), expires_at=func.now() + ttl)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.name],
        set_={
            "holder": stmt.excluded.holder,
            "expires_at": stmt.excluded.expires_at,
            "acquired_at": case((table.c.holder == stmt.excluded.holder, table.c.acquired_at), else_=func.now()),
        },
        where=(table.c.holder == stmt.excluded.holder) | (table.c.expires_at < func.now()),
    ).returning(table.c.holder)
    with engine.begin() as conn:
        return conn.execute(stmt).scalar_one_or_none() == holder


def release(engine: Engine, name: str, holder: str) -> None:
    """Let the lease expire now (if we still hold it), so a standby takes over at its next attempt."""
    table = SchedulerLease.__table__
    with engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.name == name, table.c.holder == holder)
            .values(expires_at=func.now() - timedelta(seconds=1))
        )


def holder_of(engine: Engine, name: str) -> str | None:
    table = SchedulerLease.__table__
    with engine.connect() as conn:
        return conn.execute(select(table.c.holder).where(table.c.name == name, table.c.expires_at > func.now())).scalar_one_or_none()
