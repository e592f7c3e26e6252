"""Two transactions storing the same new person (or conversation) at once both succeed.

Found by benchmarks/teams_load.py on PostgreSQL: a Teams turn remembering its sender while another
request stored the same person as a kudos recipient; both looked, found nobody and inserted, and the
second died on the unique key (8 of 500 kudos lost, each answered with an apology after a 2xx).
Here the first transaction inserts and holds its commit; the second must wait, then refresh the
first's row. On SQLite the second's BEGIN IMMEDIATE already waits for the first.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from storage.directory.queries import save_conversation_ref, upsert_user
from storage.directory.tables import ConversationRef, User
from storage.kernel.db import make_engine, session, write_unit


def _race(engine, store) -> list[BaseException]:
    inserted, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with write_unit(engine) as s:
                store(s, "first")
                inserted.set()
                release.wait(10)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            inserted.set()

    def second() -> None:
        try:
            with write_unit(engine) as s:
                store(s, "second")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    a = threading.Thread(target=first)
    a.start()
    assert inserted.wait(10)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.5)  # it now waits on the first's uncommitted row (PostgreSQL) or write lock (SQLite)
    release.set()
    a.join(10)
    b.join(10)
    return errors


def test_the_same_new_person_stored_twice_at_once(database_url):
    engine = make_engine(database_url)
    try:
        errors = _race(engine, lambda s, who: upsert_user(s, platform="teams", external_id="29:new", display_name=f"New ({who})"))
        assert errors == []
        with session(engine) as s:
            assert s.scalar(select(func.count()).select_from(User).where(User.external_id == "29:new")) == 1
            assert s.execute(select(User.display_name).where(User.external_id == "29:new")).scalar_one() == "New (second)"
    finally:
        engine.dispose()


def test_the_same_new_conversation_remembered_twice_at_once(database_url):
    engine = make_engine(database_url)
    try:
        errors = _race(engine, lambda s, who: save_conversation_ref(s, platform="teams", conversation_id="a:new", kind="personal", reference={"by": who}))
        assert errors == []
        with session(engine) as s:
            rows = s.execute(select(ConversationRef.reference).where(ConversationRef.conversation_id == "a:new")).scalars().all()
        assert rows == [{"by": "second"}]
    finally:
        engine.dispose()
