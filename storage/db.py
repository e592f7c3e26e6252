"""Engine creation with the per-backend settings the rest of the code relies on."""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - exercised by every SQLite test
            cursor = dbapi_connection.cursor()
            # Foreign keys are off by default in SQLite; WAL lets the scheduler read while a request writes.
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # pysqlite only emits BEGIN before the first INSERT/UPDATE, so a SAVEPOINT issued first
            # (claim_inbound's begin_nested) opened its own transaction and RELEASE committed it:
            # a handler that failed later still left its delivery key behind. Let SQLAlchemy
            # begin transactions itself (the recipe in SQLAlchemy's pysqlite docs).
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - exercised by every SQLite test
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def session(engine: Engine) -> Session:
    # expire_on_commit=False: objects returned from a unit of work stay readable after it commits.
    return Session(engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
