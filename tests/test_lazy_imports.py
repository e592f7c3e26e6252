"""Issue 17's memory target: a Slack-only server on SQLite does not load what it has no use for yet.

Each of these holds megabytes of resident memory once imported (benchmarks/README.md): botbuilder
(Teams is not configured), TextBlob (nothing scored yet), Jinja2 (no post rendered from a
template), rapidfuzz (no customer praise routed), PostgreSQL's dialect (SQLite never elects a
scheduler leader) and, without PULSEBRIDGE_SECRET_KEY, cryptography (nothing to seal).
The server is built and started in a child process, whose modules are its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from storage.kernel.migrate import upgrade
from tests.conftest import child_env

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import asyncio, json, sys
from aiohttp import web
from adapters.server import build_app
from bot.kernel.settings import Settings

async def main():
    settings = Settings(_env_file=None, DATABASE_URL=sys.argv[1], SLACK_BOT_TOKEN="xoxb-lazy", SLACK_SIGNING_SECRET="lazy-secret",
                        SLACK_API_URL="http://127.0.0.1:9/api/", PULSEBRIDGE_SCHEDULER=True, PULSEBRIDGE_METRICS_LISTEN="off")
    runner = web.AppRunner(build_app(settings))
    await runner.setup()  # start-up: the org's teams, the scheduler and every feature's jobs
    try:
        print(json.dumps(sorted(sys.modules)))
    finally:
        await runner.cleanup()

asyncio.run(main())
"""

HEAVY = ("botbuilder", "textblob", "jinja2", "rapidfuzz", "sqlalchemy.dialects.postgresql", "cryptography")


def started_modules(tmp_path: Path) -> set[str]:
    url = f"sqlite:///{tmp_path / 'lazy.db'}"
    upgrade(url)  # here: Alembic loads every dialect it knows, `pulsebridge run` does not migrate
    env = child_env({"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    done = subprocess.run([sys.executable, "-c", CHILD, url], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_started_slack_server_on_sqlite_has_not_imported_what_it_does_not_use(tmp_path):
    modules = started_modules(tmp_path)
    assert "slack_bolt" in modules and "apscheduler" in modules  # the child did start a server
    loaded = sorted({heavy for heavy in HEAVY for m in modules if m == heavy or m.startswith(heavy + ".")})
    assert loaded == []
