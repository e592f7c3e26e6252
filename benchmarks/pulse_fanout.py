"""Fan-out benchmark: one pulse to N Slack users against the fake Slack Web API with a rate limit.

Run by hand (not a test):

    .venv/bin/python benchmarks/pulse_fanout.py --users 5000 --rate 100
    .venv/bin/python benchmarks/pulse_fanout.py --users 1000 --rate 100 --remind

Phase 1 sends one pulse to N users in a child process and reports the fan-out's time ÷ (N ÷ rate),
lost and duplicate DMs. Phase 2 starts again on a fresh database, SIGKILLs the child once about a
third of the DMs have gone out, restarts it, and reports the time from the first DM to the last
(kill, restart and resume included) ÷ (N ÷ rate), and lost/duplicate DMs after the resume. The fake Slack
lives in this (parent) process so it survives the kill and counts every DM that reached it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from bot.directory.sync import sync_org_teams

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday, after 10:00 everywhere in the team's timezone


def org_yaml(users: int) -> str:
    members = ", ".join(f"slack:{uid(i)}" for i in range(users))
    return f"""
pulses: {{questions_per_pulse: 2, min_group_size: 5}}
teams:
  everyone:
    name: Everyone
    timezone: Europe/Berlin
    members: [{members}]
    pulse: {{day: tue, time: "09:00"}}
"""


def uid(i: int) -> str:
    return f"U{i:07d}"


# -- child: the bot process that fans out ------------------------------------------------------------
async def child(args) -> None:
    from adapters.slack.client import SlackAdapter, make_client
    from bot.app import build_core
    from bot.app import parse_org_config
    from bot.pulses.fanout import fan_out
    from bot.pulses.schedule import open_due_cycles
    from bot.kernel.settings import Settings
    from storage.kernel.db import make_engine

    settings = Settings(
        _env_file=None, DATABASE_URL=args.database_url, PULSEBRIDGE_SECRET_KEY="b" * 40, PULSEBRIDGE_SEND_RATE=args.rate,
        PULSEBRIDGE_SCHEDULER=False, SLACK_MAX_RETRIES=5,
    )
    engine = make_engine(args.database_url)
    core = build_core(engine, parse_org_config(org_yaml(args.users)), clock=lambda: NOW, settings=settings)
    core.register(SlackAdapter(make_client("xoxb-bench", args.slack_url + "/api/", 5)))
    sync_org_teams(core)
    t0 = time.monotonic()
    open_due_cycles(core, NOW)
    t1 = time.monotonic()
    report = await fan_out(core, NOW)
    t2 = time.monotonic()
    remind_s = None
    if args.remind:
        from bot.pulses.schedule import remind_step
        from sqlalchemy import select

        from storage.kernel.db import session
        from storage.pulses.tables import Pulse

        with session(engine) as s:
            remind_at = s.scalars(select(Pulse)).one().remind_at
        core.clock = lambda: remind_at
        t3 = time.monotonic()
        await remind_step(core)
        remind_s = time.monotonic() - t3
    print(json.dumps({"open_s": t1 - t0, "fanout_s": t2 - t1, "remind_s": remind_s, "sent": report.sent, "failed": report.failed,
                      "reconciled": report.reconciled, "resent_after_crash": report.resent_after_crash, "rate_limited": report.rate_limited}), flush=True)


# -- parent: fake Slack, run/kill/restart, count -------------------------------------------------------
async def run_child(args, db_url: str, slack_url: str, kill_after: int | None, fake) -> tuple[dict | None, float, bool]:
    cmd = [sys.executable, __file__, "--child", "--users", str(args.users), "--rate", str(args.rate), "--database-url", db_url, "--slack-url", slack_url]
    cmd += ["--remind"] if getattr(args, "remind", False) else []
    start = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, cwd=str(ROOT))
    killed = False
    if kill_after is not None:
        while proc.returncode is None:
            if len(fake.calls_to("chat.postMessage")) >= kill_after:
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            await asyncio.sleep(0.005)
    out, _ = await proc.communicate()
    wall = time.monotonic() - start
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    return (json.loads(lines[-1]) if lines else None), wall, killed


def tally(fake, users: int) -> tuple[int, int, int]:
    per = Counter(c.params["channel"] for c in fake.calls_to("chat.postMessage"))
    lost = sum(1 for i in range(users) if per.get(uid(i), 0) == 0)
    dup = sum(n - 1 for n in per.values() if n > 1)
    return lost, dup, len(fake.calls_to("chat.postMessage:rejected"))


_schemas: list[str] = []


def drop_schemas(base: str | None) -> None:
    if not base:
        return
    from sqlalchemy import text

    from storage.kernel.db import make_engine

    engine = make_engine(base)
    with engine.begin() as conn:
        for schema in _schemas:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def fresh_db(tmp: Path, name: str, base: str | None) -> str:
    from storage.kernel.migrate import upgrade

    if base:
        import uuid

        from sqlalchemy import text

        from storage.kernel.db import make_engine

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        _schemas.append(schema)
        with make_engine(base).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp / name}"
    upgrade(url)
    return url


async def parent(args) -> None:
    rows = []
    try:
        await phases(args, rows)
    finally:
        drop_schemas(args.postgres)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\nN={args.users} users, allowed rate {args.rate}/s (fake Slack: 429 + Retry-After: 1 above it), {backend}\n")
    print("| run | wall s | N÷rate s | ratio | lost | duplicate | 429s | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for name, wall, ideal, ratio, lost, dup, rej, note in rows:
        print(f"| {name} | {wall:.1f} | {ideal:.1f} | {ratio:.3f} | {lost} | {dup} | {rej} | {note} |")



async def phases(args, rows) -> None:
    from tests.fakes.slack_api import FakeSlackAPI

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.remind:
            # Reminders: the pulse goes out, then (nobody having answered) the reminder step at remind_at.
            fake = FakeSlackAPI()
            await fake.start()
            fake.limit_rate("chat.postMessage", args.rate)
            db = fresh_db(tmp, "remind.db", args.postgres)
            report, _, _ = await run_child(args, db, fake.url, None, fake)
            per = Counter(c.params["channel"] for c in fake.calls_to("chat.postMessage"))
            ideal = args.users / args.rate
            lost = sum(1 for i in range(args.users) if per.get(uid(i), 0) < 2)
            dup = sum(n - 2 for n in per.values() if n > 2)
            rows.append(("reminders to all N (after the fan-out)", report["remind_s"], ideal, report["remind_s"] / ideal, lost, dup,
                         len(fake.calls_to("chat.postMessage:rejected")), "lost = no reminder; duplicate = more than pulse + reminder"))
            await fake.stop()
            return
        # Phase 1: uninterrupted.
        fake = FakeSlackAPI()
        await fake.start()
        fake.limit_rate("chat.postMessage", args.rate)
        db = fresh_db(tmp, "run.db", args.postgres)
        report, wall, _ = await run_child(args, db, fake.url, None, fake)
        lost, dup, rejected = tally(fake, args.users)
        ideal = args.users / args.rate
        rows.append(("uninterrupted", report["fanout_s"], ideal, report["fanout_s"] / ideal, lost, dup, rejected, "-"))
        await fake.stop()

        # Phase 2: SIGKILL after a third, restart, finish.
        fake = FakeSlackAPI()
        await fake.start()
        fake.limit_rate("chat.postMessage", args.rate)
        db = fresh_db(tmp, "crash.db", args.postgres)
        start = time.monotonic()
        _, _, killed = await run_child(args, db, fake.url, args.users // 3, fake)
        at_kill = len(fake.calls_to("chat.postMessage"))
        report2, _, _ = await run_child(args, db, fake.url, None, fake)
        total = time.monotonic() - start
        lost, dup, rejected = tally(fake, args.users)
        # Like phase 1 (whose clock runs from the fan-out's start), from the first DM to the last one;
        # the kill, the restart and the resume all fall inside. The old measure also counted both
        # processes' start-up and the first one's planning: reported beside it.
        sent_at = [c.at for c in fake.calls_to("chat.postMessage")]
        span = max(sent_at) - min(sent_at)
        rows.append(("killed at ~N/3 + restart", span, ideal, span / ideal, lost, dup, rejected,
                     f"killed={killed} after {at_kill} DMs; reconciled {report2['reconciled']}, re-sent {report2['resent_after_crash']}; "
                     f"with both start-ups and the planning {total:.1f} s, {total / ideal:.3f}"))
        await fake.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=5000)
    p.add_argument("--rate", type=float, default=100.0, help="messages/s the fake Slack allows (and PULSEBRIDGE_SEND_RATE)")
    p.add_argument("--postgres", default=os.environ.get("PULSEBRIDGE_BENCH_POSTGRES_URL"), help="base PostgreSQL URL (default: SQLite)")
    p.add_argument("--remind", action="store_true", help="measure the reminder step instead (nobody answers, everyone is reminded)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    p.add_argument("--slack-url", help=argparse.SUPPRESS)
    args = p.parse_args()
    asyncio.run(child(args) if args.child else parent(args))


if __name__ == "__main__":
    main()
