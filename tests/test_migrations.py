"""The migration history: one line to one head, reachable from every state a deployment can be in.

Until 0008 the history had five heads (0002..0005 and 0007; 0002 and 0004 only "effective" heads,
because 0006 and 0007 named them in `depends_on`). A deployed database is therefore at any set of
released revisions closed under their parents, as the runner (`upgrade heads`), a manual
`alembic upgrade <rev>` or a `downgrade` left it. Each such state is built here with the history
*as released* (the same files, 0006/0007 with their released parents, nothing after 0007), so the
alembic_version rows are the ones released Alembic wrote; the current runner must take each to the
single head with a schema the models agree with (autogenerate finds no drift), on SQLite and on
PostgreSQL (a throw-away schema per test, as in conftest).
"""

from __future__ import annotations

import itertools
import os
import pickle
import re
import shutil
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import datetime_to_utc_timestamp, obj_to_ref
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from bot.kernel.scheduler import run_job
from storage.kernel.migrate import AUTOGENERATE_OPTIONS, MIGRATIONS, SCHEMA_HEAD, alembic_config, pending_heads, upgrade
from storage.schema import import_all_tables
from tests.conftest import POSTGRES_ENV

# The released graph (parents = down revisions + depends_on), as of the last release before 0008.
RELEASED = {
    "0001": (),
    "0002": ("0001",),
    "0003": ("0001",),
    "0004": ("0001",),
    "0005": ("0001",),
    "0006": ("0001", "0004"),
    "0007": ("0002", "0006"),
}
# The header lines 0006 and 0007 were released with (0008 turned their dependencies into parents).
RELEASED_HEADERS = {
    "0006": {"down_revision": "'0001'", "depends_on": "('0004',)"},
    "0007": {"down_revision": "'0006'", "depends_on": "('0002',)"},
}
# What `alembic heads` listed before 0008; an operator could `alembic stamp` exactly these.
RELEASED_HEADS_LISTED = ("0002", "0003", "0004", "0005", "0007")
MERGE = "0008"
SCHEDULER_REWRITE = "0010"
OLD_REF = "bot.scheduler:run_job"
NEW_REF = "bot.kernel.scheduler:run_job"


def _ancestors(graph: dict[str, tuple[str, ...]], rev: str) -> set[str]:
    out: set[str] = set()
    for parent in graph[rev]:
        out |= {parent} | _ancestors(graph, parent)
    return out


def _released_states() -> list[tuple[str, ...]]:
    """Every set of released revisions closed under parents, as its maximal revisions (the rows
    released Alembic keeps in alembic_version); () is an empty database."""
    states = []
    for n in range(len(RELEASED) + 1):
        for applied in itertools.combinations(sorted(RELEASED), n):
            if all(_ancestors(RELEASED, rev) <= set(applied) for rev in applied):
                states.append(tuple(r for r in applied if not any(r in _ancestors(RELEASED, o) for o in applied)))
    return states


STATES = _released_states()


def _script() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def _graph(script: ScriptDirectory) -> dict[str, tuple[str, ...]]:
    def as_tuple(value) -> tuple[str, ...]:
        return () if value is None else (value,) if isinstance(value, str) else tuple(value)

    return {r.revision: tuple(sorted({*as_tuple(r.down_revision), *as_tuple(r.dependencies)})) for r in script.walk_revisions()}


# The newest head; test_one_head_and_one_line_after_the_merge fails when there is more than one.
HEAD = max(_script().get_heads())


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """The migrations directory as released before the merge."""
    target = tmp_path_factory.mktemp("released") / "migrations"
    shutil.copytree(MIGRATIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in (target / "versions").glob("*.py"):
        if int(path.name[:4]) > max(int(r) for r in RELEASED):
            path.unlink()
    for rev, fields in RELEASED_HEADERS.items():
        (path,) = (target / "versions").glob(f"{rev}_*.py")
        source = path.read_text(encoding="utf-8")
        for name, value in fields.items():
            source, n = re.subn(rf"^{name} = .*$", f"{name} = {value}", source, flags=re.M)
            assert n == 1, f"{path.name}: no single `{name} = ...` line"
        path.write_text(source, encoding="utf-8")
    assert _graph(ScriptDirectory(str(target))) == RELEASED
    return target


@contextmanager
def _empty_schema(base: str) -> Iterator[str]:
    schema = f"pb_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request, tmp_path) -> Iterator[str]:
    """An empty database (nothing migrated): a SQLite file, or a throw-away PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pulsebridge.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"set {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run the PostgreSQL variant")
    with _empty_schema(base) as url:
        yield url


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def _rows(url: str) -> set[str]:
    with _engine(url) as engine, engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return set()
        return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _drift(url: str) -> list:
    import_all_tables()
    with _engine(url) as engine, engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts=AUTOGENERATE_OPTIONS), SQLModel.metadata)


def _pending(url: str) -> set[str]:
    with _engine(url) as engine:
        return pending_heads(engine)


def _released_config(url: str, released: Path):
    cfg = alembic_config(url)
    cfg.set_main_option("script_location", str(released))
    return cfg


# --- the history itself ------------------------------------------------------------------------


def test_one_head_and_one_line_after_the_merge():
    script = _script()
    # revision_map.heads also counts "effective" heads (a revision only named in depends_on).
    assert script.revision_map.heads == (HEAD,)
    assert script.get_heads() == [HEAD]
    graph = _graph(script)
    assert graph[MERGE] == ("0003", "0005", "0007")
    rev = HEAD
    while rev != MERGE:
        revision = script.get_revision(rev)
        assert isinstance(revision.down_revision, str) and not revision.dependencies, f"{rev} must have one parent and no depends_on"
        rev = revision.down_revision
    for path in (MIGRATIONS / "versions").glob("*.py"):
        match = re.fullmatch(r"(\d{4})_[a-z0-9_]+\.py", path.name)
        assert match, f"{path.name}: name it 00NN_description.py"
        assert re.search(rf"^revision = '{match[1]}'$", path.read_text(encoding="utf-8"), flags=re.M), path.name


def test_the_start_up_check_knows_the_newest_migration(tmp_path):
    """`pulsebridge run` compares alembic_version with SCHEMA_HEAD without loading Alembic: it must
    be the scripts' head, or a database one migration behind would pass as current."""
    assert SCHEMA_HEAD == HEAD
    url = f"sqlite:///{tmp_path}/current.db"
    upgrade(url)
    probe = (
        "import sys; from storage.kernel.db import make_engine; from storage.kernel.migrate import pending_heads; "
        f"assert pending_heads(make_engine({url!r})) == set(); print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"  # a current database costs no Alembic import
    with _engine(url) as engine, engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    assert _pending(url) == {HEAD}


def test_released_revisions_keep_their_ancestors():
    """0006/0007's dependencies became parents: every alembic_version row a released database holds
    still means the same set of applied migrations."""
    current = _graph(_script())
    for rev in RELEASED:
        assert _ancestors(current, rev) == _ancestors(RELEASED, rev), rev


# --- upgrade, downgrade, drift -----------------------------------------------------------------


def test_upgrade_head_downgrade_base_and_up_again(empty_url):
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "head")
    assert _rows(empty_url) == {HEAD}
    assert _drift(empty_url) == []
    with _engine(empty_url) as engine:
        tables = set(inspect(engine).get_table_names())
    assert "apscheduler_jobs" not in tables  # 0010 skips APScheduler's table where it never existed
    assert tables >= {t.name for t in SQLModel.metadata.sorted_tables}

    command.downgrade(cfg, "base")
    with _engine(empty_url) as engine:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert _rows(empty_url) == set()

    upgrade(empty_url)  # the runner `pulsebridge db upgrade` uses
    assert _rows(empty_url) == {HEAD}
    assert _drift(empty_url) == []
    assert _pending(empty_url) == set()


def test_downgrade_one_step_is_unambiguous_from_the_head_to_the_merge(empty_url):
    cfg = alembic_config(empty_url)
    upgrade(empty_url)
    script = _script()
    rev = HEAD
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Alembic only warns about an ambiguous `downgrade -1`
        while rev != MERGE:
            command.downgrade(cfg, "-1")
            rev = script.get_revision(rev).down_revision
            assert _rows(empty_url) == {rev}
    # Below the merge there are three branches again: Alembic refuses to guess (the history before
    # 0008 is what it is); a named revision (or `base`) still works.
    with pytest.raises(CommandError, match="Ambiguous walk"):
        command.downgrade(cfg, "-1")
    assert _rows(empty_url) == {MERGE}
    command.downgrade(cfg, "0007")
    assert _rows(empty_url) == {"0003", "0005", "0007"}
    upgrade(empty_url)
    assert _rows(empty_url) == {HEAD}
    assert _drift(empty_url) == []


@pytest.mark.parametrize("state", STATES, ids=lambda s: "+".join(s) or "empty")
def test_every_released_state_upgrades_to_the_head(empty_url, released, state):
    old = _released_config(empty_url, released)
    for rev in state:
        command.upgrade(old, rev)
    assert _rows(empty_url) == set(state)  # what released Alembic wrote
    assert _pending(empty_url)  # `pulsebridge run` refuses to start on it

    upgrade(empty_url)
    assert _rows(empty_url) == {HEAD}
    assert _pending(empty_url) == set()
    assert _drift(empty_url) == []


def test_a_database_stamped_at_the_five_listed_heads_upgrades(empty_url, released):
    """`alembic heads` listed five revisions; stamping all five writes five rows (0002 and 0004 are
    ancestors of 0007), which the current history must still read as "everything released"."""
    old = _released_config(empty_url, released)
    command.upgrade(old, "heads")
    command.stamp(old, list(RELEASED_HEADS_LISTED), purge=True)
    assert _rows(empty_url) == set(RELEASED_HEADS_LISTED)

    upgrade(empty_url)
    assert _rows(empty_url) == {HEAD}
    assert _drift(empty_url) == []


# --- the scheduler's stored jobs follow the kernel move ----------------------------------------


def stand_in(**kwargs) -> None:
    """Only to build Job objects: their "func" is replaced before they are stored."""


def _store(engine: Engine) -> SQLAlchemyJobStore:
    """The job store exactly as bot.kernel.scheduler builds it (the table is created by APScheduler)."""
    store = SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")
    store.start(BackgroundScheduler(timezone=UTC), "default")
    return store


def _store_job(store: SQLAlchemyJobStore, job_id: str, trigger, func: str, kwargs: dict) -> dict:
    """A row as SQLAlchemyJobStore.add_job writes it, for a job added with textual reference `func`."""
    now = datetime.now(UTC)
    job = Job(
        store._scheduler,
        id=job_id,
        func=stand_in,
        trigger=trigger,
        executor="default",
        args=(),
        kwargs=kwargs,
        name="run_job",
        misfire_grace_time=12 * 3600,
        coalesce=True,
        max_instances=1,
        next_run_time=trigger.get_next_fire_time(None, now),
    )
    state = job.__getstate__()
    state["func"] = func
    with store.engine.begin() as conn:
        conn.execute(
            store.jobs_t.insert().values(
                id=job_id, next_run_time=datetime_to_utc_timestamp(job.next_run_time), job_state=pickle.dumps(state, store.pickle_protocol)
            )
        )
    return state


def _stored(store: SQLAlchemyJobStore) -> dict[str, bytes]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(store.jobs_t.c.id, store.jobs_t.c.job_state)).all())


def _comparable(state: dict) -> dict:
    return {**state, "trigger": (type(state["trigger"]), state["trigger"].__getstate__())}


def test_stored_scheduler_jobs_are_rewritten_to_the_kernel_module(empty_url):
    cfg = alembic_config(empty_url)
    before = _script().get_revision(SCHEDULER_REWRITE).down_revision
    command.upgrade(cfg, before)
    with _engine(empty_url) as engine:
        store = _store(engine)
        fanout_at = datetime.now(UTC) + timedelta(hours=2)
        ours = {
            "pulses:fanout:7": _store_job(store, "pulses:fanout:7", DateTrigger(run_date=fanout_at), OLD_REF, {"name": "pulses.fanout", "pulse_id": 7}),
            "digest:support": _store_job(
                store, "digest:support", CronTrigger(timezone="Europe/Berlin", day_of_week="fri", hour=16), OLD_REF, {"name": "recognition.digest"}
            ),
            "outbox-retry": _store_job(store, "outbox-retry", IntervalTrigger(seconds=60), OLD_REF, {"name": "outbox.retry"}),
        }
        _store_job(store, "someone-else", IntervalTrigger(seconds=5), "tests.test_migrations:stand_in", {})
        untouched = _stored(store)["someone-else"]

        command.upgrade(cfg, SCHEDULER_REWRITE)
        rows = _stored(store)
        assert rows["someone-else"] == untouched
        for job_id, old_state in ours.items():
            new_state = pickle.loads(rows[job_id])
            assert new_state["func"] == NEW_REF
            assert _comparable(new_state) == _comparable({**old_state, "func": NEW_REF}), job_id
        date_state = pickle.loads(rows["pulses:fanout:7"])
        assert date_state["trigger"].run_date == fanout_at and date_state["next_run_time"] == fanout_at

        command.downgrade(cfg, before)
        rows = _stored(store)
        assert rows["someone-else"] == untouched
        for job_id, old_state in ours.items():
            assert _comparable(pickle.loads(rows[job_id])) == _comparable(old_state), job_id

        upgrade(empty_url)
        # APScheduler itself restores every job (it deletes any it cannot), calling the kernel's run_job.
        restored = {job.id: job for job in store.get_all_jobs()}
        assert set(restored) == {*ours, "someone-else"}
        for job_id, old_state in ours.items():
            job = restored[job_id]
            assert job.func is run_job and job.func_ref == NEW_REF
            assert job.kwargs == old_state["kwargs"] and job.next_run_time == old_state["next_run_time"]
            assert _comparable({"trigger": job.trigger}) == _comparable({"trigger": old_state["trigger"]})
        assert restored["pulses:fanout:7"].trigger.run_date == fanout_at
    # APScheduler's own table is not drift: autogenerate must not propose dropping it.
    assert _drift(empty_url) == []


def test_the_kernel_scheduler_writes_the_reference_0010_rewrites_to():
    assert obj_to_ref(run_job) == NEW_REF


def test_without_0010_apscheduler_drops_a_job_stored_before_the_move(empty_url):
    """Why 0010 exists: the old reference no longer resolves, and APScheduler deletes what it cannot restore."""
    command.upgrade(alembic_config(empty_url), _script().get_revision(SCHEDULER_REWRITE).down_revision)
    with _engine(empty_url) as engine:
        store = _store(engine)
        _store_job(store, "pulses:fanout:8", DateTrigger(run_date=datetime.now(UTC) + timedelta(hours=1)), OLD_REF, {"name": "pulses.fanout", "pulse_id": 8})
        assert store.get_all_jobs() == []
        assert _stored(store) == {}
