"""PostgreSQL connections: a dropped one is replaced before use; one in steady use costs no ping.

The pool pings only connections that sat idle (storage/kernel/db.py `server_engine`): pinging at
every checkout was a round trip per transaction, a third of a paced fan-out's database time.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from storage.kernel import db
from storage.kernel.db import make_engine, session
from tests.conftest import POSTGRES_ENV


@pytest.fixture
def engine():
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"connection pooling is PostgreSQL's: set {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    engine = make_engine(base)
    yield engine
    engine.dispose()


def backend_pid(engine) -> int:
    with session(engine) as s:
        return s.scalar(text("SELECT pg_backend_pid()"))


def count_pings(engine, monkeypatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection):
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_anyone_uses_it(engine, monkeypatch):
    first = backend_pid(engine)
    other = make_engine(os.environ[POSTGRES_ENV])
    try:
        with other.connect() as conn:  # a restart, a fail-over or an idle timeout, as the pool sees it
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    finally:
        other.dispose()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has been idle long enough
    pings = count_pings(engine, monkeypatch)

    assert backend_pid(engine) != first  # no error reached the caller
    assert len(pings) >= 1


def test_a_connection_in_steady_use_is_not_pinged_at_each_checkout(engine, monkeypatch):
    backend_pid(engine)
    pings = count_pings(engine, monkeypatch)
    for _ in range(10):
        backend_pid(engine)
    assert pings == []

    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    backend_pid(engine)
    assert pings == [1]
