"""Closed-loop Teams load: kudos activities into pulsebridge's /api/messages and a bare botbuilder echo bot, side by side.

    .venv/bin/python benchmarks/teams_load.py [--n 500] [--closed 10] [--postgres URL] [--check-cards]

Each server runs in a child process of its own (as in benchmarks/ack_load.py); the fake Bot
Framework connector (tests/fakes/bot_connector.py) and the load generator live in this parent
process, on loopback only. K clients each send their next message activity as soon as the last one
was answered (closed loop). Request i: person i thanks person i+1 ("<at>pulsebridge</at> kudos
<at>Person i+1</at> for ..."), so every request is a distinct giver/recipient pair with a distinct
activity id; the people are org members (p{i}@example.com) and the connector's members (29:p{i},
same email), as tests/test_kudos_teams.py sets them up. pulsebridge runs Teams in the unsigned
local mode (PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE, no MICROSOFT_APP_ID, PULSEBRIDGE_TEAMS_SERVICE_HOSTS
= the fake connector), Slack off. The echo bot is botbuilder's CloudAdapter with no app id or
password (auth disabled) replying "echo" once to each message, through the same fake connector.

Reported per server: HTTP answer p50/p99/max, non-2xx, answered/s; for pulsebridge how long until
the fake connector had every kudos's confirmation reply, recipient DM and channel post (the team
takes one post per kudos: recognition_posts: each); for the echo bot, the echo replies received.
The connector's Adaptive Card schema check runs on the measuring loop, so it is off unless
`--check-cards` (the echo bot sends no cards: it would only slow pulsebridge's readings).
Child stderr (the server logs) goes to a temp file; its WARNING/ERROR lines are counted and shown.
Run by hand.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ack_load import _serve, closed_loop, pct, stop_child  # noqa: E402 - after the path insert

WARM = 20  # warm-up requests per server, not counted
CHANNEL = "19:everyone@thread.tacv2"
BOT = {"id": "28:pulsebridge-bot", "name": "pulsebridge"}


def member_id(i: int, people: int) -> str:
    return f"29:p{i % people}"


def name(i: int, people: int) -> str:
    return f"Person {i % people}"


def org_yaml(people: int) -> str:
    members = ", ".join(f"p{i}@example.com" for i in range(people))
    return f"""
recognition: {{allowance: 1000, pair_limit_per_day: 100}}
teams:
  everyone:
    name: Everyone
    slack_channel: C0EVERYONE
    teams_channel: "{CHANNEL}"
    timezone: Europe/Berlin
    recognition_posts: each
    members: [{members}]
"""


def activity(i: int, people: int, service_url: str, tag: str) -> bytes:
    """A kudos with an @mention, as tests/conftest.py `teams_activity` builds it from the fixture."""
    a = json.loads((ROOT / "tests/fixtures/teams/message_personal.json").read_text())
    giver, recipient = member_id(i, people), member_id(i + 1, people)
    a["id"] = f"1700{tag}{i:07d}"
    a["serviceUrl"] = service_url
    a["from"] = {"id": giver, "name": name(i, people), "aadObjectId": f"aad-{giver}"}
    a["conversation"] = {"conversationType": "personal", "tenantId": "tenant-1", "id": f"a:personal-{giver}"}
    a["recipient"] = dict(BOT)
    a["entities"] = [
        {"type": "mention", "text": f"<at>{BOT['name']}</at>", "mentioned": dict(BOT)},
        {"type": "mention", "text": f"<at>{name(i + 1, people)}</at>", "mentioned": {"id": recipient, "name": name(i + 1, people)}},
    ] + [e for e in a["entities"] if e.get("type") != "mention"]
    a["text"] = f"<at>{BOT['name']}</at> kudos <at>{name(i + 1, people)}</at> for load run {tag} {i}"
    return json.dumps(a).encode()


# -- children -----------------------------------------------------------------------------------------
async def serve_pulsebridge(args) -> None:
    from adapters.server import build_app, freeze_startup_heap
    from bot.app import parse_org_config
    from tests.conftest import make_settings

    settings = make_settings(
        args.database_url, "http://127.0.0.1:9", SLACK_BOT_TOKEN=None, SLACK_SIGNING_SECRET=None, PULSEBRIDGE_METRICS_LISTEN="off",
        PULSEBRIDGE_SECRET_KEY="b" * 40, PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE=True, MICROSOFT_APP_ID=None,
        PULSEBRIDGE_TEAMS_SERVICE_HOSTS=args.connector_host,
    )
    app = build_app(settings, org=parse_org_config(org_yaml(args.people)), bind_host="127.0.0.1")
    if not os.environ.get("PULSEBRIDGE_BENCH_NO_FREEZE"):  # as `pulsebridge run` does
        freeze_startup_heap(app)
    await _serve(app)


async def serve_echo(args) -> None:
    """botbuilder's own quickstart: CloudAdapter, no app id/password (auth off), one reply per message."""
    from types import SimpleNamespace

    from aiohttp import web
    from botbuilder.core import ActivityHandler, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(SimpleNamespace(APP_ID="", APP_PASSWORD="", APP_TYPE="MultiTenant", APP_TENANTID="")))

    class Echo(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity("echo")

    bot = Echo()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    await _serve(app)


# -- parent ---------------------------------------------------------------------------------------------
async def start_child(kind: str, args, db_url: str, connector_host: str, people: int, log):
    cmd = [sys.executable, __file__, "--child", kind, "--database-url", db_url, "--connector-host", connector_host, "--people", str(people)]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=log, cwd=str(ROOT))
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            log.flush()
            raise RuntimeError(f"{kind} child exited before listening:\n" + Path(log.name).read_text(errors="replace")[-3000:])
        if line.startswith(b"{"):
            return proc, json.loads(line)["port"]


def teams_request(url: str, people: int, service_url: str, tag: str):
    """Request i as (url, body, headers) for ack_load's closed_loop: person i's kudos activity."""
    headers = {"Content-Type": "application/json"}

    def request(i: int) -> tuple[str, bytes, dict[str, str]]:
        return url + "/api/messages", activity(i, people, service_url, tag), headers

    return request


def ok_count(r: dict) -> int:
    return sum(v for k, v in r["statuses"].items() if 200 <= k < 300)


def summary(name_: str, r: dict, n: int, extra: str) -> str:
    a = r["acks"] or [float("nan")]
    return (f"| {name_} | {statistics.median(a) * 1000:.0f} ms | {pct(a, 99) * 1000:.0f} ms | {max(a) * 1000:.0f} ms | "
            f"{n - ok_count(r)} | {ok_count(r) / r['elapsed']:.1f} | {extra} |")


def classify(sent) -> dict[str, int]:
    out = {"reply": 0, "dm": 0, "post": 0, "apology": 0, "other": 0}
    for s in sent:
        text = json.dumps(s.activity, ensure_ascii=False)
        if "something went wrong" in text or "\u26a0" in text:
            out["apology"] += 1
        elif s.conversation_id == CHANNEL:
            out["post"] += 1
        elif "Kudos sent to" in text:
            out["reply"] += 1
        elif "gave you kudos" in text:
            out["dm"] += 1
        else:
            out["other"] += 1
    return out


def log_problems(path: Path) -> list[str]:
    """Distinct warning/error log lines (first line of each record, digits as N), most frequent first."""
    import re
    from collections import Counter

    lines = path.read_text(errors="replace").splitlines()
    found = Counter(re.sub(r"\d+", "N", ln)[:240] for ln in lines if any(w in ln for w in ("ERROR", "WARNING", "unhandled", "Error("))
                    and "INSECURE_LOCAL_MODE is on" not in ln and not ln.startswith(" "))
    return [f"{count}x {line}" for line, count in found.most_common()]


async def parent(args) -> None:
    from tests.fakes.bot_connector import FakeBotConnector
    from storage.kernel.migrate import upgrade

    people = max(2000, args.n + 2 * WARM + 2)

    class Connector(FakeBotConnector):
        async def _checked(self, request):
            if args.check_cards:
                return await super()._checked(request)
            return json.loads(await request.read()), None

    fake = Connector()
    await fake.start()
    for i in range(people):
        fake.add_member(member_id(i, people), name(i, people), f"p{i}@example.com")
    host = fake.url.split("//", 1)[1].rstrip("/")
    rows, notes = [], []
    results: dict[str, float] = {}
    log_dir = Path(tempfile.mkdtemp(prefix="teams_load-"))  # kept: the servers' logs
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            sys.argv = sys.argv[:1]
            from benchmarks.pulse_fanout import drop_schemas, fresh_db

            db_url = fresh_db(Path(tmp), "x", args.postgres)
        else:
            db_url = f"sqlite:///{tmp}/load.db"
            upgrade(db_url)
            drop_schemas = None
        try:
            for kind, tag in (("echo", "1"), ("pulsebridge", "2")):
                log_path = log_dir / f"{kind}.log"
                with open(log_path, "wb") as log:
                    proc, port = await start_child(kind, args, db_url, host, people, log)
                    try:
                        url = f"http://127.0.0.1:{port}"
                        # warm-up: people n..n+WARM-1 thank the next one (pairs the measured run never uses)
                        await closed_loop(range(args.n, args.n + WARM), args.closed, teams_request(url, people, fake.url, tag + "9"))
                        await asyncio.sleep(2)
                        before = len(fake.sent)
                        r = await closed_loop(range(args.n), args.closed, teams_request(url, people, fake.url, tag))
                        want = args.n * (3 if kind == "pulsebridge" else 1)
                        deadline = time.perf_counter() + 120
                        while len(fake.sent) - before < want and time.perf_counter() < deadline:
                            await asyncio.sleep(0.05)
                        done = time.perf_counter() - r["start"]
                        finished = len(fake.sent) - before >= want
                        got = fake.sent[before:]
                        if kind == "pulsebridge":
                            c = classify(got)
                            extra = ((f"all work done {done:.1f} s after the first send" if finished else f"NOT all work done after {done:.1f} s")
                                     + f" (HTTP answers took {r['elapsed']:.1f} s); "
                                     f"{c['reply']} replies, {c['dm']} DMs, {c['post']} channel posts (want {args.n} each)"
                                     + (f", {c['apology']} apologies" if c["apology"] else "") + (f", {c['other']} other" if c["other"] else ""))
                        else:
                            echoes = sum(1 for s in got if s.activity.get("text") == "echo")
                            extra = f"{echoes} echo replies (want {args.n})"
                        rows.append(summary("pulsebridge" if kind == "pulsebridge" else "botbuilder echo", r, args.n, extra))
                        results[kind] = ok_count(r) / r["elapsed"]
                    finally:
                        await stop_child(proc)
                problems = log_problems(log_path)
                if problems:
                    notes.append(f"{kind} log ({log_path}): " + " / ".join(problems[:4]))
        finally:
            if drop_schemas is not None:
                drop_schemas(args.postgres)
            await fake.stop()
    if fake.refused:
        notes.append(f"connector refused {len(fake.refused)} call(s): {fake.refused[:3]}")
    if args.check_cards and fake.card_problems:
        notes.append(f"{len(fake.card_problems)} card problem(s): {fake.card_problems[:2]}")
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\nTeams kudos activities, closed loop, {args.closed} clients, {args.n} requests, {backend}\n")
    print("| server | answer p50 | p99 | max | non-2xx | answered/s | notes |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if results.get("echo"):
        print(f"\npulsebridge / botbuilder echo answered/s: {results['pulsebridge'] / results['echo']:.2f}")
    for note in notes:
        print(f"\n- {note}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--closed", type=int, default=10, metavar="K", help="closed loop: K clients, each sending on as soon as answered")
    p.add_argument("--postgres", default=os.environ.get("PULSEBRIDGE_BENCH_POSTGRES_URL"))
    p.add_argument("--check-cards", action="store_true", help="the fake connector checks every Adaptive Card (on the measuring loop)")
    p.add_argument("--child", choices=("pulsebridge", "echo"), help=argparse.SUPPRESS)
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    p.add_argument("--connector-host", help=argparse.SUPPRESS)
    p.add_argument("--people", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        asyncio.run(serve_pulsebridge(args) if args.child == "pulsebridge" else serve_echo(args))
    else:
        asyncio.run(parent(args))


if __name__ == "__main__":
    main()
