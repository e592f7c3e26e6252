"""Alembic driven from code, so `pulsebridge db upgrade` works from an installed wheel with no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent.parent / "migrations"

# The newest migration. `pulsebridge run` compares the database's alembic_version with it before
# anything else, without importing Alembic and loading every migration script (0.25 s and 12 MB
# at each start); any other state is left to Alembic. tests/test_migrations.py checks that this
# is the scripts' one head.
SCHEMA_HEAD = "0011"

# Tables in the bot's database that Alembic does not own: APScheduler's SQLAlchemyJobStore creates
# `apscheduler_jobs` itself when the scheduler starts (the data migrations may still rewrite its rows).
NOT_OURS = frozenset({"apscheduler_jobs"})


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    return not (type_ == "table" and name in NOT_OURS)


# How autogenerate compares the database with the models: env.py (`alembic revision --autogenerate`)
# and tests/test_migrations.py (no drift) use the same options.
AUTOGENERATE_OPTIONS = {"include_name": include_name, "compare_type": True, "compare_server_default": True}


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on '%' in URL-encoded passwords.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def forget_redundant_versions(connection: Connection) -> set[str]:
    """Delete alembic_version rows that another row already implies (its ancestors); returns them.

    Before 0008, `alembic heads` listed 0002 and 0004 beside 0007 (which depends on both), and
    `alembic stamp` of all five listed heads writes all five rows. They say nothing more than the
    others do, but Alembic refuses to upgrade from rows that overlap ("Requested revision 0007
    overlaps with other requested revisions 0004, 0002"). Rows naming unknown revisions are left
    for Alembic to report.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError

    script = ScriptDirectory(str(MIGRATIONS))
    current = set(MigrationContext.configure(connection).get_current_heads())
    implied: set[str] = set()
    for rev in current:
        try:
            implied.update(r.revision for r in script.iterate_revisions(rev, "base") if r.revision != rev)
        except RevisionError:
            continue
    redundant = current & implied
    for rev in sorted(redundant):
        connection.execute(text("DELETE FROM alembic_version WHERE version_num = :rev"), {"rev": rev})
    return redundant


def upgrade(url: str, engine: Engine | None = None) -> None:
    from alembic import command

    cfg = alembic_config(url)
    own = engine is None
    migrator = create_engine(url, poolclass=NullPool) if own else engine
    try:
        with migrator.begin() as connection:
            forget_redundant_versions(connection)
    finally:
        if own:
            migrator.dispose()
    if engine is not None:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "heads")
    else:
        command.upgrade(cfg, "heads")


def pending_heads(engine: Engine) -> set[str]:
    """Migration heads the database has not reached yet (empty when the schema is current)."""
    with engine.connect() as conn:
        if inspect(conn).has_table("alembic_version"):
            if set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()) == {SCHEMA_HEAD}:
                return set()
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    wanted = set(script.get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    reached: set[str] = set()
    for rev in current:
        reached.update(r.revision for r in script.iterate_revisions(rev, "base"))
    return wanted - reached
