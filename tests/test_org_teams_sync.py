"""Mirroring the org file's teams at start-up: only the differences are written.

`pulsebridge run` calls this at every start with a possibly 10,000-person file; it used to delete
and re-insert every membership. What must hold: the memberships end up exactly as the file says
(added, removed, promoted to lead, demoted), a team that left the file loses its members but keeps
its row, a team mapped from a platform group is left alone, and an unchanged file writes nothing.
"""

from __future__ import annotations

from sqlalchemy import event, select

from bot.app import build_core, parse_org_config
from bot.directory.sync import sync_org_teams
from storage.directory.tables import Team, TeamMember
from storage.kernel.db import make_engine, session, write_unit

ORG = """
teams:
  support:
    name: Support
    leads: [lead@example.com]
    members: [a@example.com, b@example.com, c@example.com]
  sales:
    members: [s1@example.com, s2@example.com]
"""

CHANGED = """
teams:
  support:
    name: Customer Support
    leads: [lead@example.com, a@example.com]
    members: [b@example.com, d@example.com]
"""


def memberships(engine) -> dict[str, dict[str, bool]]:
    with session(engine) as s:
        rows = s.execute(select(Team.slug, TeamMember.identifier, TeamMember.is_lead).join(TeamMember, TeamMember.team_id == Team.id)).all()
    out: dict[str, dict[str, bool]] = {}
    for slug, ident, is_lead in rows:
        out.setdefault(slug, {})[ident] = is_lead
    return out


def sync(engine, text: str) -> None:
    sync_org_teams(build_core(engine, parse_org_config(text)))


def test_a_changed_org_file_changes_exactly_what_it_says(database_url):
    engine = make_engine(database_url)
    sync(engine, ORG)
    with write_unit(engine) as s:
        s.add(Team(slug="designers", name="Designers", source="slack"))
        s.flush()
        group = s.execute(select(Team).where(Team.slug == "designers")).scalar_one()
        s.add(TeamMember(team_id=group.id, identifier="slack:U1"))
    sync(engine, CHANGED)
    assert memberships(engine) == {
        "support": {"lead@example.com": True, "a@example.com": True, "b@example.com": False, "d@example.com": False},
        "designers": {"slack:U1": False},
    }
    with session(engine) as s:
        teams = {t.slug: t for t in s.execute(select(Team)).scalars()}
    assert teams["support"].name == "Customer Support"
    assert "sales" in teams  # history (kudos, pulses) still joins on the row
    sync(engine, ORG)
    assert memberships(engine)["support"] == {"lead@example.com": True, "a@example.com": False, "b@example.com": False, "c@example.com": False}
    assert memberships(engine)["sales"] == {"s1@example.com": False, "s2@example.com": False}


def test_an_unchanged_org_file_writes_nothing(database_url):
    people = "\n".join(f"      - p{i}@example.com" for i in range(3000))
    text = f"teams:\n  big:\n    leads: [lead@example.com]\n    members:\n{people}\n"
    engine = make_engine(database_url)
    sync(engine, text)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, sql, *a: statements.append(sql.split()[0].upper()))
    sync(engine, text)
    writes = [s for s in statements if s in ("INSERT", "UPDATE", "DELETE")]
    assert writes == [], writes
    assert len([s for s in statements if s == "SELECT"]) <= 3
    assert len(memberships(engine)["big"]) == 3001


def test_replicas_starting_together_both_start(database_url):
    """Two replicas mirror a new org file at the same moment: the second waits for the first's
    commit and finds the teams there, instead of inserting them again and dying at start-up
    (duplicate key on teams_slug_key, seen with two PostgreSQL replicas started together)."""
    import threading

    from sqlalchemy import text

    from storage.directory.queries import sync_teams

    if not database_url.startswith("postgresql"):
        import pytest

        pytest.skip("SQLite: a write unit begins IMMEDIATE, so a second process already waits for the first")
    first, second = make_engine(database_url), make_engine(database_url)
    outcome: list[BaseException | None] = []

    def start_second() -> None:
        try:
            sync(second, ORG)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcome.append(exc)

    teams = [("support", {"name": "Support", "slack_channel": None, "teams_channel": None, "timezone": "UTC"}, ["a@example.com"], [])]
    with write_unit(first) as s:
        sync_teams(s, teams)  # the first replica's unit, not yet committed
        thread = threading.Thread(target=start_second)
        thread.start()
        with first.connect() as watcher:  # until the second replica is seen waiting for a lock
            for _ in range(500):
                if watcher.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
                    break
                watcher.rollback()
                thread.join(0.01)
            else:
                raise AssertionError("the second replica never waited for the first")
    thread.join(30)
    assert outcome == [None]
    assert memberships(first)["support"] == {"lead@example.com": True, "a@example.com": False, "b@example.com": False, "c@example.com": False}
    first.dispose()
    second.dispose()
