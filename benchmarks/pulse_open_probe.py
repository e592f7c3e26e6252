"""/healthz and /kudos acks while a 20,000-person pulse opens and goes out, in a real server.

    python benchmarks/pulse_open_probe.py [--people 20000] [--rate 100] [--kudos-rate 50] [--postgres URL]

The server runs in a child process with its scheduler on; its one team's pulse is due at the next
minute boundary at least 20 s away (UTC), so the real `pulses.open` and `pulses.send` jobs plan it
and fan it out. The directory already knows everyone (rows inserted before start, as a nightly
sync leaves them). This parent process holds the fake Slack Web API (chat.postMessage limited to
`--rate`/s, PULSEBRIDGE_SEND_RATE the same) and, from 5 s before the boundary to 60 s after it,
probes GET /healthz every 100 ms (each probe waits for the previous one) and sends signed /kudos at
`--kudos-rate`/s (open loop) from 2 s before the boundary for `--kudos-seconds`. Reported: probe
and ack percentiles, how long the opening took (the server's "opened pulse" log line) and how many
DMs reached the fake by the end. `--control` runs the same with the team's pulse disabled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ack_load import kudos_body, pct, person, signed, stop_child  # noqa: E402

KUDOS_PEOPLE = 2000  # ack_load's givers and recipients: the first 2,000 of the team


def org_yaml(people: int, due: datetime, enabled: bool) -> str:
    members = ", ".join(f"p{i}@example.com" for i in range(people))
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[due.weekday()]
    return f"""
recognition: {{allowance: 1000, pair_limit_per_day: 100}}
pulses: {{questions_per_pulse: 2, min_group_size: 5, open_hours: 48}}
teams:
  everyone:
    name: Everyone
    slack_channel: C0EVERYONE
    timezone: UTC
    members: [{members}]
    pulse: {{day: {day}, time: "{due:%H:%M}", enabled: {str(enabled).lower()}}}
"""


def seed_directory(db_url: str, people: int) -> None:
    from sqlalchemy import insert

    from storage.directory.tables import User
    from storage.kernel.db import make_engine, write_unit
    from storage.kernel.tables import utcnow

    engine = make_engine(db_url)
    now = utcnow()
    rows = [dict(platform="slack", external_id=f"U{i:07d}", display_name=f"Person {i}", email=f"p{i}@example.com", timezone="UTC",
                 is_bot=False, active=True, created_at=now, updated_at=now) for i in range(people)]
    with write_unit(engine) as s:
        for i in range(0, len(rows), 1000):
            s.execute(insert(User), rows[i : i + 1000])
    engine.dispose()


# -- child ----------------------------------------------------------------------------------------------
async def serve(args) -> None:
    import logging

    from adapters.server import build_app, freeze_startup_heap
    from benchmarks.ack_load import _serve
    from bot.app import parse_org_config
    from tests.conftest import make_settings

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(created).3f %(name)s %(message)s")
    due = datetime.fromisoformat(args.due)
    settings = make_settings(args.database_url, args.slack_url, PULSEBRIDGE_METRICS_LISTEN="off", PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE=False,
                             PULSEBRIDGE_SCHEDULER=not args.web_only, PULSEBRIDGE_SECRET_KEY="b" * 40, PULSEBRIDGE_SEND_RATE=args.rate)
    app = build_app(settings, org=parse_org_config(org_yaml(args.people, due, not args.control)), bind_host="127.0.0.1", worker=args.worker)
    if not os.environ.get("PULSEBRIDGE_BENCH_NO_FREEZE"):  # as `pulsebridge run` does; set it to compare
        freeze_startup_heap(app)
    if os.environ.get("PULSEBRIDGE_BENCH_SWITCH_INTERVAL"):  # to compare with other values of adapters.server.SWITCH_INTERVAL
        sys.setswitchinterval(float(os.environ["PULSEBRIDGE_BENCH_SWITCH_INTERVAL"]))
    await _serve(app)


# -- parent ---------------------------------------------------------------------------------------------
async def probe(url: str, until: float) -> list[float]:
    import aiohttp

    waits: list[float] = []
    async with aiohttp.ClientSession() as http:
        while time.time() < until:
            t = time.perf_counter()
            async with http.get(url + "/healthz") as resp:
                await resp.read()
            waits.append(time.perf_counter() - t)
            await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - t)))
    return waits


async def kudos(url: str, n: int, rate: float, slack_url: str) -> list[tuple[float, float]]:
    """(wall-clock send time, ack seconds) of each acknowledged /kudos."""
    import aiohttp

    acks: list[tuple[float, float]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200), timeout=aiohttp.ClientTimeout(total=60)) as http:
        start = time.perf_counter()

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            body = kudos_body(i, slack_url, "open")
            sent, t = time.time(), time.perf_counter()
            async with http.post(url + "/slack/events", data=body, headers=signed(body)) as resp:
                await resp.read()
                if resp.status == 200:
                    acks.append((sent, time.perf_counter() - t))

        await asyncio.gather(*(one(i) for i in range(n)))
    return acks


def line(name: str, values: list[float], limit: float) -> str:
    v = values or [float("nan")]
    return (f"| {name} | {len(values)} | {statistics.median(v) * 1000:.0f} ms | {pct(v, 99) * 1000:.0f} ms | {max(v) * 1000:.0f} ms | "
            f"{sum(1 for x in values if x > limit)} over {limit * 1000:.0f} ms |")


async def parent(args) -> None:
    from storage.kernel.migrate import upgrade
    from benchmarks.fake_slack_child import FakeSlackProcess
    from tests.fakes.slack_api import FakeSlackAPI

    if args.fake_in_parent:  # as measured before 2026-12-03: the fake's work delays the probes' readings
        slack = FakeSlackAPI()
        await slack.start()
        slack.limit_rate("chat.postMessage", args.rate)
        for i in range(KUDOS_PEOPLE):
            slack.add_user(person(i), f"Person {i}", f"p{i}@example.com", tz="UTC")
    else:
        slack = await FakeSlackProcess.start(rate=args.rate, users=KUDOS_PEOPLE)
    now = datetime.now(UTC)
    due = (now + timedelta(seconds=80)).replace(second=0, microsecond=0)
    boundary = due.timestamp()
    with tempfile.TemporaryDirectory() as tmp:
        drop = None
        if args.postgres:
            sys.argv = sys.argv[:1]
            from benchmarks.pulse_fanout import drop_schemas, fresh_db

            db_url, drop = fresh_db(Path(tmp), "x", args.postgres), drop_schemas
        else:
            db_url = f"sqlite:///{tmp}/open.db"
            upgrade(db_url)
        seed_directory(db_url, args.people)
        log_path = Path(tmp) / "server.log"
        cmd = [sys.executable, __file__, "--child", "--database-url", db_url, "--slack-url", slack.url, "--people", str(args.people),
               "--rate", str(args.rate), "--due", due.isoformat()] + (["--control"] if args.control else [])
        with log_path.open("w") as log:
            proc = await asyncio.create_subprocess_exec(*cmd, *(["--worker"] if args.split else []), stdout=asyncio.subprocess.PIPE, stderr=log, cwd=str(ROOT))
        web = None
        if args.split:
            with (Path(tmp) / "web.log").open("w") as log2:
                web = await asyncio.create_subprocess_exec(*cmd, "--web-only", stdout=asyncio.subprocess.PIPE, stderr=log2, cwd=str(ROOT))
        try:
            if web is not None:  # from here `proc` is the web replica, which takes the requests; the worker logs the opening
                json.loads(await asyncio.wait_for(proc.stdout.readline(), 120))
                proc, web = web, proc
            port = json.loads(await asyncio.wait_for(proc.stdout.readline(), 120))["port"]
            url = f"http://127.0.0.1:{port}"
            await kudos(url, 20, 20, slack.url)  # warm-up, not counted
            if time.time() > boundary - 6:
                raise SystemExit("the server took too long to start; run again")
            await asyncio.sleep(boundary - 5 - time.time())
            probes = asyncio.create_task(probe(url, boundary + 60))
            await asyncio.sleep(3)
            acks = await kudos(url, int(args.kudos_rate * args.kudos_seconds), args.kudos_rate, slack.url)
            waits = await probes
            if not args.fake_in_parent:
                dms = (await slack.counts())["dms"]
        finally:
            await stop_child(proc)
            if web is not None:
                await stop_child(web)
        opened = [ln for ln in log_path.read_text().splitlines() if "opened pulse" in ln]
        if drop is not None:
            drop(args.postgres)
    if args.fake_in_parent:
        dms = sum(1 for c in slack.calls_to("chat.postMessage") if c.params.get("channel", "").startswith("U"))
        await slack.stop()
    else:
        await slack.stop()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    what = "pulse disabled (control)" if args.control else f"{args.people:,}-person pulse due at the boundary"
    print(f"\n{backend}, {what}, DMs limited to {args.rate:g}/s, /kudos at {args.kudos_rate:g}/s for {args.kudos_seconds} s\n")
    opened_at = None
    for ln in opened:
        opened_at = float(ln.split()[0])
        print(f"opening finished {opened_at - boundary:.2f} s after the boundary: {ln.split(' ', 2)[2]}")
    print(f"DMs sent by the end (60 s after the boundary; kudos DMs included): {dms}\n")
    print("| what | n | p50 | p99 | max | slow |")
    print("|---|---|---|---|---|---|")
    print(line("/healthz every 100 ms, boundary −5 s … +60 s", waits, 0.2))
    print(line(f"/kudos ack, boundary −2 s … +{args.kudos_seconds - 2} s", [a for _, a in acks], 0.1))
    if opened_at is not None:  # which phase the slow acks fell in: planning the pulse, or sending it
        print(line("… sent while the pulse was opening", [a for t, a in acks if boundary <= t < opened_at], 0.1))
        print(line("… sent after it opened (fan-out running)", [a for t, a in acks if t >= opened_at], 0.1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=20000)
    p.add_argument("--rate", type=float, default=100.0, help="chat.postMessage per second the fake allows (and PULSEBRIDGE_SEND_RATE)")
    p.add_argument("--kudos-rate", type=float, default=50.0)
    p.add_argument("--kudos-seconds", type=int, default=30)
    p.add_argument("--control", action="store_true", help="the same run with the team's pulse disabled")
    p.add_argument("--postgres", default=os.environ.get("PULSEBRIDGE_BENCH_POSTGRES_URL"))
    p.add_argument("--split", action="store_true", help="PostgreSQL: a `pulsebridge worker` runs the pulse; the requests go to a web replica without a scheduler")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--fake-in-parent", action="store_true", help="the fake Slack on the measuring loop, as before 2026-12-03")
    p.add_argument("--web-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    p.add_argument("--slack-url", help=argparse.SUPPRESS)
    p.add_argument("--due", help=argparse.SUPPRESS)
    args = p.parse_args()
    asyncio.run(serve(args) if args.child else parent(args))


if __name__ == "__main__":
    main()
