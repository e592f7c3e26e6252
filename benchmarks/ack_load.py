"""Open-loop ack latency: signed `/kudos` at a fixed offered rate, pulsebridge and a bare bolt app side by side.

    python benchmarks/ack_load.py [--rate 50] [--n 500] [--concurrency 200] [--postgres URL] [--only pulsebridge|bolt] [--mix]

Each server runs in a child process of its own (so one cannot stall the other's event loop); the
fake Slack Web API and the load generator live in this parent process. Requests are sent on a fixed
schedule (request i at i/rate seconds, open loop: a slow answer does not slow the offer), at most
`--concurrency` in flight. Reported per server: ack p50/p99/max, acks over 1 s and 3 s, non-200s,
the achieved request rate (answered requests ÷ time from first send to last answer), and for
pulsebridge how long until all the work was done (each kudos's confirmation on response_url and its
two channel/DM posts reached the fake). Run by hand; the numbers go in benchmarks/README.md.

`--mix`: every other request is a pulse answer click instead (block_actions on the DM's buttons of
an open pulse planned for the 2,000 people before the server starts; the bare bolt app acks the
same action). Its work is done when the click's DM update reached the fake.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


PEOPLE = 2000  # request i: person i % PEOPLE thanks the next one, so no allowance or pair limit is hit


def person(i: int) -> str:
    return f"U{i % PEOPLE:07d}"


def org_yaml(pulse_due: datetime | None = None) -> str:
    members = ", ".join(f"p{i}@example.com" for i in range(PEOPLE))
    pulse = ""
    if pulse_due is not None:
        day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[pulse_due.weekday()]
        pulse = f'\n    pulse: {{day: {day}, time: "{pulse_due:%H:%M}"}}'
    return f"""
recognition: {{allowance: 1000, pair_limit_per_day: 100}}
pulses: {{questions_per_pulse: 2, min_group_size: 5, open_hours: 48}}
teams:
  everyone:
    name: Everyone
    slack_channel: C0EVERYONE
    timezone: Europe/Berlin
    members: [{members}]{pulse}
"""


def plan_pulse(core) -> None:
    """--mix: the team's pulse, planned and marked sent (as if its fan-out had run), before serving."""
    from sqlalchemy import update

    from bot.pulses.schedule import open_due_cycles
    from storage.kernel.db import write_unit
    from storage.pulses.tables import PulseDelivery

    open_due_cycles(core, core.clock())
    with write_unit(core.engine) as s:
        s.execute(update(PulseDelivery).values(status="sent", sent_at=core.clock()))


def buttons(db_url: str) -> dict[str, tuple[int, int]]:
    """Each person's first question of the open pulse: external id -> (pulse id, question id)."""
    from sqlalchemy import select

    from storage.directory.tables import User
    from storage.kernel.db import make_engine, session
    from storage.pulses.tables import PulseDelivery, PulseQuestion

    engine = make_engine(db_url)
    with session(engine) as s:
        questions = {(q.pulse_id, q.question_key): q.id for q in s.scalars(select(PulseQuestion))}
        out = {u.external_id: (d.pulse_id, questions[(d.pulse_id, d.question_keys[0])])
               for d, u in s.execute(select(PulseDelivery, User).join(User, User.id == PulseDelivery.user_id))}
    engine.dispose()
    return out


def stored_answers(db_url: str) -> int:
    from sqlalchemy import func, select

    from storage.kernel.db import make_engine, session
    from storage.pulses.tables import PulseAnswer

    engine = make_engine(db_url)
    with session(engine) as s:
        n = s.scalar(select(func.count()).select_from(PulseAnswer))
    engine.dispose()
    return n


def click_body(i: int, slack_url: str, tag: str, pulse_id: int, question_id: int) -> bytes:
    """A pulse answer click as Slack sends it (value 3 is an answer on every scale but text/choice)."""
    payload = json.loads((ROOT / "tests/fixtures/slack/block_actions.json").read_text())
    who = person(i)
    payload["user"] = {"id": who, "username": f"p{i % PEOPLE}", "name": f"p{i % PEOPLE}", "team_id": "T0001"}
    payload["trigger_id"] = f"{i}.{time.time_ns()}.{tag}"
    payload["response_url"] = f"{slack_url}/response/{tag}-{i}"
    payload["container"].update(channel_id="D" + who[1:], message_ts=f"1700000000.{i:06d}")
    payload["channel"] = {"id": "D" + who[1:], "name": "directmessage"}
    payload["message"]["ts"] = f"1700000000.{i:06d}"
    action_id = f"pulse.answer:{question_id}:3"
    payload["actions"][0].update(action_id=action_id, value=f"{pulse_id}:{question_id}:3", block_id="pulse.answer")
    return urlencode({"payload": json.dumps(payload)}).encode()


# -- children -----------------------------------------------------------------------------------------
async def serve_pulsebridge(args) -> None:

    from adapters.server import build_app, freeze_startup_heap
    from bot.app import parse_org_config
    from tests.conftest import make_settings

    from adapters.server import CORE

    # Due a minute ago in the people's own zone (UTC, as pulse_open_probe seeds them): it opens at once.
    due = (datetime.now(UTC) - timedelta(minutes=1)) if args.mix else None
    settings = make_settings(args.database_url, args.slack_url, PULSEBRIDGE_METRICS_LISTEN="off", PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE=False,
                             PULSEBRIDGE_SECRET_KEY="b" * 40)
    app = build_app(settings, org=parse_org_config(org_yaml(due)), bind_host="127.0.0.1")
    if not os.environ.get("PULSEBRIDGE_BENCH_NO_FREEZE"):  # as `pulsebridge run` does; set it to compare
        freeze_startup_heap(app)
    if os.environ.get("PULSEBRIDGE_BENCH_SWITCH_INTERVAL"):  # to compare with other values of adapters.server.SWITCH_INTERVAL
        sys.setswitchinterval(float(os.environ["PULSEBRIDGE_BENCH_SWITCH_INTERVAL"]))
    if args.mix:
        plan_pulse(app[CORE])
    await _serve(app)


async def serve_bolt(args) -> None:
    """What Slack's own quickstart does: verify, parse, ack with a text. The floor for any bolt app."""
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp

    from tests.conftest import SIGNING_SECRET

    from slack_sdk.web.async_client import AsyncWebClient

    bolt = AsyncApp(signing_secret=SIGNING_SECRET, client=AsyncWebClient(token="xoxb-bench", base_url=args.slack_url + "/api/"))

    @bolt.command("/kudos")
    async def kudos(ack, body):
        await ack(f"Thanks, {body.get('user_name', 'you')}!")

    @bolt.action(re.compile(r"^pulse\.answer:"))
    async def answer(ack):
        await ack()

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    await _serve(app)


async def _serve(app) -> None:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(json.dumps({"port": site._server.sockets[0].getsockname()[1]}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


# -- parent ---------------------------------------------------------------------------------------------
async def start_child(kind: str, args, db_url: str, slack_url: str):
    cmd = [sys.executable, __file__, "--child", kind, "--database-url", db_url, "--slack-url", slack_url] + (["--mix"] if args.mix else [])
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, cwd=str(ROOT))
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            raise RuntimeError(f"{kind} child exited before listening")
        if line.startswith(b"{"):
            return proc, json.loads(line)["port"]


async def stop_child(proc) -> None:
    """SIGTERM (the server drains its work), killed if it has not exited within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()


def signed(body: bytes) -> dict[str, str]:
    import hashlib
    import hmac

    from tests.conftest import SIGNING_SECRET

    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"}


def kudos_body(i: int, slack_url: str, tag: str) -> bytes:
    return urlencode(dict(
        token="x", team_id="T0001", team_domain="acme", channel_id="C0SUPPORT", channel_name="support",
        user_id=person(i), user_name=f"p{i % PEOPLE}", command="/kudos", text=f"<@{person(i + 1)}|p{(i + 1) % PEOPLE}> for load run {tag} {i}",
        api_app_id="A0001", is_enterprise_install="false",
        trigger_id=f"{i}.{time.time_ns()}.{tag}", response_url=f"{slack_url}/response/{tag}-{i}",
    )).encode()


async def timed_post(http, url: str, body: bytes, headers: dict[str, str], acks: list[float], statuses: dict[int, int]) -> None:
    """One request: its answer time goes into `acks`, its status is counted (0: no answer at all)."""
    t = time.perf_counter()
    try:
        async with http.post(url, data=body, headers=headers) as resp:
            await resp.read()
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
    except Exception:  # noqa: BLE001 - counted as a failure
        statuses[0] = statuses.get(0, 0) + 1
        return
    acks.append(time.perf_counter() - t)


def slack_request(url: str, slack_url: str, tag: str, clicks: dict | None):
    """Request i as (url, body, headers): a /kudos, or with `clicks` every other one a pulse answer click."""
    def request(i: int) -> tuple[str, bytes, dict[str, str]]:
        body = click_body(i, slack_url, tag, *clicks[person(i)]) if clicks and i % 2 else kudos_body(i, slack_url, tag)
        return url + "/slack/events", body, signed(body)

    return request


async def offer(url: str, n: int, rate: float, concurrency: int, slack_url: str, tag: str, clicks: dict | None = None) -> dict:
    """Open loop: request i sent at i/rate s (≤ `concurrency` in flight)."""
    import aiohttp

    acks: list[float] = []
    statuses: dict[int, int] = {}
    request = slack_request(url, slack_url, tag, clicks)
    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        start = time.perf_counter()

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            async with sem:
                await timed_post(http, *request(i), acks, statuses)

        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - start
    return {"acks": acks, "statuses": statuses, "elapsed": elapsed, "start": start}


async def closed_loop(indices: range, clients: int, request) -> dict:
    """Closed loop: `clients` clients, each sending its next request (`request(i)` → url, body,
    headers) as soon as its last one was answered."""
    import aiohttp

    acks: list[float] = []
    statuses: dict[int, int] = {}
    next_i = iter(indices)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        start = time.perf_counter()

        async def client() -> None:
            for i in next_i:
                await timed_post(http, *request(i), acks, statuses)

        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return {"acks": acks, "statuses": statuses, "elapsed": elapsed, "start": start}


def summary(name: str, r: dict, n: int, rate: float, extra: str = "") -> str:
    a = r["acks"] or [float("nan")]
    ok = r["statuses"].get(200, 0)
    return (f"| {name} | {statistics.median(a) * 1000:.0f} ms | {pct(a, 99) * 1000:.0f} ms | {max(a) * 1000:.0f} ms | "
            f"{sum(1 for x in a if x > 1)} / {sum(1 for x in a if x > 3)} | {n - ok} | {ok / r['elapsed']:.1f} ({f'of {rate:g}' if rate else 'closed loop'}) | {extra} |")


async def parent(args) -> None:
    from collections import Counter

    from benchmarks.fake_slack_child import FakeSlackProcess
    from storage.kernel.migrate import upgrade
    from tests.fakes.slack_api import FakeSlackAPI

    if args.fake_in_parent:  # as measured before 2026-12-03: the fake's work delays the acks' readings
        fake = FakeSlackAPI()
        await fake.start()
        for i in range(PEOPLE):
            fake.add_user(person(i), f"Person {i}", f"p{i}@example.com")

        async def received() -> Counter:
            return Counter(c.method for c in fake.calls)

        slack = fake
    else:
        slack = await FakeSlackProcess.start(users=PEOPLE, tz="Europe/Berlin")

        async def received() -> Counter:
            return Counter((await slack.counts())["calls"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            sys.argv = sys.argv[:1]
            from benchmarks.pulse_fanout import drop_schemas, fresh_db

            db_url = fresh_db(Path(tmp), "x", args.postgres)
        else:
            db_url = f"sqlite:///{tmp}/load.db"
            upgrade(db_url)
            drop_schemas = None
        if args.mix:
            from benchmarks.pulse_open_probe import seed_directory

            seed_directory(db_url, PEOPLE)
        try:
            for kind in ("bolt", "pulsebridge"):
                if args.only and args.only != kind:
                    continue
                proc, port = await start_child(kind, args, db_url, slack.url)
                try:
                    clicks = buttons(db_url) if args.mix and kind == "pulsebridge" else None
                    if args.mix and kind == "bolt":
                        clicks = {person(i): (1, 1) for i in range(PEOPLE)}  # bare bolt acks any answer
                    await offer(f"http://127.0.0.1:{port}", 20, 20, 10, slack.url, f"warm{kind}")  # warm-up, not counted
                    if kind == "pulsebridge":
                        await asyncio.sleep(2)
                    before = await received()
                    url = f"http://127.0.0.1:{port}"
                    if args.closed:
                        r = await closed_loop(range(args.n), args.closed, slack_request(url, slack.url, kind, clicks))
                    else:
                        r = await offer(url, args.n, args.rate, args.concurrency, slack.url, kind, clicks)
                    extra = ""
                    if kind == "pulsebridge":
                        n_clicks = args.n // 2 if args.mix else 0
                        n_kudos = args.n - n_clicks
                        deadline = time.perf_counter() + 120

                        while True:
                            now = await received()
                            posts = now["chat.postMessage"] - before["chat.postMessage"]
                            answered = now["response_url"] + now["chat.update"] - before["response_url"] - before["chat.update"]
                            if time.perf_counter() >= deadline or (posts >= n_kudos and answered >= args.n):
                                break
                            await asyncio.sleep(0.05)
                        extra = (f"all work done {time.perf_counter() - r['start']:.1f} s after the first send; {answered} confirmations/updates "
                                 f"(want {args.n}), {posts} posts (want {n_kudos})" + (f", {stored_answers(db_url)} answers stored (want {n_clicks})" if args.mix else ""))
                    rows.append(summary(kind, r, args.n, 0 if args.closed else args.rate, extra))
                finally:
                    await stop_child(proc)
        finally:
            if drop_schemas is not None:
                drop_schemas(args.postgres)
            await slack.stop()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    what = "/kudos and pulse answer clicks (half each)" if args.mix else "/kudos"
    load = f"closed loop, {args.closed} clients" if args.closed else f"at {args.rate:g}/s offered"
    print(f"\n{what} {load}, {args.n} requests, concurrency {args.closed or args.concurrency}, {backend}\n")
    print("| server | ack p50 | p99 | max | > 1 s / > 3 s | non-200 | answered/s | notes |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=200)
    p.add_argument("--postgres", default=os.environ.get("PULSEBRIDGE_BENCH_POSTGRES_URL"))
    p.add_argument("--only", choices=("pulsebridge", "bolt"))
    p.add_argument("--mix", action="store_true", help="every other request a pulse answer click")
    p.add_argument("--closed", type=int, default=0, metavar="K", help="closed loop: K clients, each sending on as soon as answered (--rate unused)")
    p.add_argument("--fake-in-parent", action="store_true", help="the fake Slack on the measuring loop, as before 2026-12-03")
    p.add_argument("--child", choices=("pulsebridge", "bolt"), help=argparse.SUPPRESS)
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    p.add_argument("--slack-url", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        asyncio.run(serve_pulsebridge(args) if args.child == "pulsebridge" else serve_bolt(args))
    else:
        asyncio.run(parent(args))


if __name__ == "__main__":
    main()
