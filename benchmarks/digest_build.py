"""How long the weekly digest takes to build for a big team, and how fast the kudos limit checks are.

    .venv/bin/python benchmarks/digest_build.py                       # SQLite in a temp dir
    .venv/bin/python benchmarks/digest_build.py postgresql+psycopg://postgres@127.0.0.1:5432/test

Seeds one team of MEMBERS people with KUDOS public kudos (plus 10% private) and WINS wins spread
over the last 30 days, then times `bot.digest.build` (all queries + template rendering, no sending)
and `_enforce_limits` (the two queries run inside every /kudos transaction).
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from bot.directory.sync import sync_org_teams

MEMBERS, KUDOS, WINS, RUNS = 300, 5000, 200, 5


def main(base_url: str | None) -> None:
    from bot.app import build_core
    from bot.recognition.kudos import _enforce_limits
    from bot.app import parse_org_config
    from storage.kernel.db import make_engine, session
    from storage.recognition.kudos import insert_kudos
    from storage.kernel.migrate import upgrade
    from storage.recognition.queries import insert_win, set_kudos_context
    from storage.directory.tables import User

    if base_url:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(base_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    try:
        upgrade(url)
        engine = make_engine(url)
        emails = [f"p{i}@example.com" for i in range(MEMBERS)]
        yaml = "teams:\n  big:\n    slack_channel: C0BIG\n    recognition_posts: digest\n    leads: [p0@example.com]\n    members: [" + ", ".join(emails) + "]\n"
        now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)

        class NoSend:
            platform = "slack"

        core = build_core(engine, parse_org_config(yaml), {"slack": NoSend()}, clock=lambda: now)
        sync_org_teams(core)
        rng = random.Random(7)
        with session(engine) as s, s.begin():
            users = [User(platform="slack", external_id=f"U{i:05d}", display_name=f"Person {i}", email=e) for i, e in enumerate(emails)]
            s.add_all(users)
            s.flush()
            for n in range(int(KUDOS * 1.1)):
                giver, *recipients = rng.sample(users, 3)
                kudos = insert_kudos(
                    s, giver_id=giver.id, recipient_ids=[u.id for u in recipients], reason="thanks", values=[rng.choice(["craft", "ownership"])],
                    platform="slack", source_key=f"bench:{n}",
                )
                kudos.created_at = now - timedelta(minutes=rng.randrange(30 * 24 * 60))
                set_kudos_context(s, kudos.id, win_id=None, private=n >= KUDOS)
            for n in range(WINS):
                insert_win(
                    s, customer=f"Customer {n}", summary="renewal", value=None, won_on=date(2026, 11, 1), created_by=users[0].id,
                    platform="slack", source_key=f"bench-win:{n}", contributor_ids=[u.id for u in rng.sample(users, 3)],
                    created_at=now - timedelta(minutes=rng.randrange(30 * 24 * 60)),
                )
        from bot.recognition.digest import build

        timings = []
        for _ in range(RUNS):
            start = time.perf_counter()
            out = build(core, "big")
            timings.append(time.perf_counter() - start)
        limit_timings = []
        with session(engine) as s:
            giver = s.get(User, users[1].id)
            recipients = [s.get(User, users[2].id)]
            for _ in range(200):
                start = time.perf_counter()
                try:
                    _enforce_limits(s, core.org, giver, recipients, now)
                except Exception:  # noqa: BLE001 - over the limit is a valid outcome for timing
                    pass
                limit_timings.append(time.perf_counter() - start)
        backend = engine.dialect.name
        print(f"{backend}: digest build for {MEMBERS} members, {KUDOS} kudos, {WINS} wins: median {statistics.median(timings) * 1000:.0f} ms "
              f"(max {max(timings) * 1000:.0f} ms, {len(out)} messages); limit checks median {statistics.median(limit_timings) * 1000:.2f} ms")
        engine.dispose()
    finally:
        if base_url:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
