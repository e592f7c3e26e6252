"""End-to-end /teamhealth latency on a synthetic organisation, through the real HTTP endpoint.

    python benchmarks/teamhealth_latency.py [--scale 1] [--n 60] [--database-url URL] [--seed-only | --no-seed]

Scale 1: 5,000 users in 250 teams of 20, 52 weekly pulses per team (two questions, ten answers
each: ≈260k answers, 260k delivery rows), 100k kudos, 50k feedback records (10% relayed as
customer kudos), spread over the last year. Scale 10 multiplies everything (users, teams and
rows) by ten, so a query that scans a table instead of using an index shows up as ~10× slower.
Each request is a signed `/teamhealth <team> <period>` from that team's lead; the time is until
the fake Slack's response_url has the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from storage.kernel.db import make_engine  # noqa: E402
from storage.feedback.tables import CustomerKudos, Feedback  # noqa: E402
from storage.kernel.migrate import upgrade  # noqa: E402
from storage.directory.tables import Team, User  # noqa: E402
from storage.recognition.tables import Kudos, KudosRecipient
from tests.conftest import make_settings, start_server  # noqa: E402
from tests.fakes.bot_connector import FakeBotConnector  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402
from tests.teamhealth_support import ANSWERS, DELIVERIES, PULSES, QUESTIONS  # noqa: E402

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TEAM_SIZE = 20


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def org_yaml(teams: int) -> str:
    lines = ["admins: [admin@bench.example]", "teams:"]
    for t in range(teams):
        members = ", ".join(f"u{t * TEAM_SIZE + i}@bench.example" for i in range(TEAM_SIZE))
        lines += [f"  t{t}:", f"    name: Team {t}", f"    slack_channel: C{t:07d}", "    timezone: Europe/Berlin",
                  f"    leads: [u{t * TEAM_SIZE}@bench.example]", f"    members: [{members}]"]
    return "\n".join(lines) + "\n"


def chunks(rows, size=20000):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def seed(url: str, scale: int) -> None:
    rnd = random.Random(6)
    engine = make_engine(url)
    users, teams = 5000 * scale, 250 * scale
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for part in chunks([
            dict(platform="slack", external_id=f"U{i:07d}", display_name=f"User {i}", email=f"u{i}@bench.example", is_bot=False, active=True,
                 created_at=NOW, updated_at=NOW)
            for i in range(users)
        ]):
            conn.execute(sa.insert(User.__table__), part)
        team_ids = {}
        for t in range(teams):
            team_ids[t] = conn.execute(sa.insert(Team.__table__).values(slug=f"t{t}", name=f"Team {t}", timezone="Europe/Berlin", source="config")).inserted_primary_key[0]
        user_ids = list(conn.execute(sa.select(User.id).order_by(User.id)).scalars())
        # Pulses: one per team per week, two questions (a driver every week, eNPS every 4th week else a 2nd driver).
        pulse_rows, first_monday = [], date(2026, 11, 16) - timedelta(weeks=51)
        pid = 0
        for t in range(teams):
            for w in range(52):
                pid += 1
                cycle = first_monday + timedelta(weeks=w, days=1)
                at = datetime(cycle.year, cycle.month, cycle.day, 9, tzinfo=UTC)
                pulse_rows.append(dict(id=pid, source_key=f"team:t{t}:{cycle}", kind="scheduled", team_id=team_ids[t], cycle_date=cycle, opens_at=at,
                                       closes_at=at + timedelta(hours=72), reminded=True, status="closed" if w < 51 else "open", min_group_size=5, created_at=at))
        for part in chunks(pulse_rows):
            conn.execute(PULSES.insert(), part)
        q_rows, a_rows, d_rows = [], [], []
        qid = 0
        drivers = ["growth", "workload", "wellbeing", "recognition", "peers", "manager", "tools", "customer"]
        for p in pulse_rows:
            for k in range(2):
                qid += 1
                scale_name = "enps" if k == 1 and p["id"] % 4 == 0 else "likert"
                q_rows.append(dict(id=qid, pulse_id=p["id"], question_key=f"q{k}", driver="enps" if scale_name == "enps" else rnd.choice(drivers),
                                   text="?", scale=scale_name, choices=[], allow_comment=True))
                for r in range(10):
                    value = rnd.randint(0, 10) if scale_name == "enps" else rnd.randint(1, 5)
                    comment = rnd.choice(["on-call rota is heavy", "great onboarding docs", None, None, None, "release tooling is slow"])
                    a_rows.append(dict(id=uuid.uuid4().hex, pulse_id=p["id"], question_id=qid, respondent=f"{p['id']}-{r}", value=value, comment=comment,
                                       polarity=None if comment is None else rnd.uniform(-1, 1), answered_on=p["cycle_date"]))
            team_index = (p["id"] - 1) // 52
            for r in range(TEAM_SIZE):
                d_rows.append(dict(pulse_id=p["id"], user_id=user_ids[team_index * TEAM_SIZE + r], platform="slack", question_keys=[], due_at=p["opens_at"], status="sent", attempts=1,
                                   answered=r < 10, created_at=p["opens_at"]))
        for rows, table in ((q_rows, QUESTIONS), (a_rows, ANSWERS), (d_rows, DELIVERIES)):
            for part in chunks(rows):
                conn.execute(table.insert(), part)
        k_rows = [dict(id=i + 1, giver_id=rnd.choice(user_ids), reason="thanks", platform="slack", source_key=f"k{i}",
                       created_at=NOW - timedelta(seconds=rnd.randint(0, 365 * 86400))) for i in range(100_000 * scale)]
        for part in chunks(k_rows):
            conn.execute(sa.insert(Kudos.__table__), part)
        for part in chunks([dict(kudos_id=k["id"], user_id=rnd.choice(user_ids)) for k in k_rows]):
            conn.execute(sa.insert(KudosRecipient.__table__), part)
        f_rows, ck_rows = [], []
        for i in range(50_000 * scale):
            csat = i % 2 == 0
            score = rnd.randint(1, 5) if csat else rnd.randint(0, 10)
            positive = score >= 4 if csat else score >= 9
            when = NOW - timedelta(seconds=rnd.randint(0, 365 * 86400))
            f_rows.append(dict(id=i + 1, source="bench", external_id=str(i), score=score, scale="csat5" if csat else "nps10", text="", raw={},
                               sentiment="positive" if positive else "negative", status="credited" if i % 10 == 0 else "not_kudos",
                               routed_user_id=rnd.choice(user_ids), created_at=when, received_at=when))
            if i % 10 == 0:
                ck_rows.append(dict(feedback_id=i + 1, user_id=f_rows[-1]["routed_user_id"], giver_label="a customer", quote="", route_method="bench", created_at=when))
        for part in chunks(f_rows):
            conn.execute(sa.insert(Feedback.__table__), part)
        for part in chunks(ck_rows):
            conn.execute(sa.insert(CustomerKudos.__table__), part)
        if engine.dialect.name == "postgresql":
            for table in ("kudos", "feedback", "pulses"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    print(f"seeded scale {scale}: {users} users, {teams} teams, {len(a_rows)} answers, {len(k_rows)} kudos, {len(f_rows)} feedback in {time.perf_counter() - t0:.0f} s")


async def measure(url: str, scale: int, n: int) -> list[float]:
    slack, connector = FakeSlackAPI(), FakeBotConnector()
    await slack.start()
    await connector.start()
    teams = 250 * scale
    picks = [random.Random(i).randrange(teams) for i in range(n)]
    for t in set(picks):
        slack.add_user(f"U{t * TEAM_SIZE:07d}", f"User {t * TEAM_SIZE}", f"u{t * TEAM_SIZE}@bench.example")
    runner, srv = await start_server(make_settings(url, slack.url), slack, connector, org_yaml(teams))
    srv.core.clock = lambda: NOW
    times = []
    try:
        for i, t in enumerate(picks):
            period = ("week", "month", "quarter")[i % 3]
            before = len(slack.calls_to("response_url"))
            started = time.perf_counter()
            status, _ = await srv.slack_command("/teamhealth", f"t{t} {period}", user_id=f"U{t * TEAM_SIZE:07d}")
            assert status == 200
            while len(slack.calls_to("response_url")) <= before:
                await asyncio.sleep(0.0005)
            times.append(time.perf_counter() - started)
            if i == 0:
                text = str(slack.calls_to("response_url")[-1].params)
                assert "Team health" in text, text[:500]
    finally:
        await runner.cleanup()
        await slack.stop()
        await connector.stop()
    return times[3:]  # the first requests warm caches and the ORM


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--database-url")
    parser.add_argument("--seed-only", action="store_true", help="seed and stop (measure later with --no-seed)")
    parser.add_argument("--no-seed", action="store_true", help="measure a database seeded before with the same --scale")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    if not args.no_seed:
        upgrade(url)
        seed(url, args.scale)
    if args.seed_only:
        return
    times = asyncio.run(measure(url, args.scale, args.n))
    print(f"backend={url.split(':', 1)[0]} scale={args.scale} n={len(times)} p50={statistics.median(times) * 1000:.1f} ms p95={pct(times, 95) * 1000:.1f} ms max={max(times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
