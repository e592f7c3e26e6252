"""How long the directory sync takes for a large Slack workspace (fake Slack API on loopback).

    .venv/bin/python benchmarks/directory_sync.py --users 10000
    .venv/bin/python benchmarks/directory_sync.py --users 10000 --database postgresql+psycopg://postgres@127.0.0.1:5432/test

Run by hand; results go in benchmarks/README.md. A PostgreSQL URL gets a throw-away schema.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from adapters.server import CORE, build_app  # noqa: E402
from bot.directory.sync import sync_platform  # noqa: E402
from bot.app import OrgConfig  # noqa: E402
from storage.kernel.db import make_engine  # noqa: E402
from storage.kernel.migrate import upgrade  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402


async def main(users: int, database: str | None) -> None:
    fake = FakeSlackAPI()
    await fake.start()
    for i in range(users):
        fake.add_user(f"U{i:08d}", f"Person {i}", f"person{i}@example.com")
    schema = None
    if database:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(database)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{database}{'&' if '?' in database else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    try:
        upgrade(url)
        app = build_app(make_settings(url, fake.url), org=OrgConfig(), bind_host="127.0.0.1")
        core = app[CORE]
        for label in ("first sync (all new)", "second sync (no changes)"):
            fake.calls.clear()
            start = time.perf_counter()
            report = await sync_platform(core, "slack")
            took = time.perf_counter() - start
            print(f"{core.engine.dialect.name:10} {users:6} users  {label:26} {took:6.2f} s  "
                  f"{users / took:7.0f} users/s  users.list calls: {len(fake.calls_to('users.list'))}  ({report.line()})")
        fake.users.pop(next(iter(fake.users)))
        start = time.perf_counter()
        report = await sync_platform(core, "slack")
        print(f"{core.engine.dialect.name:10} {users:6} users  {'one person left':26} {time.perf_counter() - start:6.2f} s  ({report.line()})")
        # A listing that succeeds with the wrong answer (a mis-scoped token): the guard refuses it.
        for uid in list(fake.users)[3:]:
            del fake.users[uid]
        start = time.perf_counter()
        report = await sync_platform(core, "slack")
        print(f"{core.engine.dialect.name:10} {users:6} users  {'only 3 listed (refused)':26} {time.perf_counter() - start:6.2f} s  ({report.line()[:90]})")
        core.engine.dispose()
    finally:
        await fake.stop()
        if schema:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--database", default=None, help="PostgreSQL base URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    asyncio.run(main(args.users, args.database))
