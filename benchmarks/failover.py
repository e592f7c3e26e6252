"""Scheduler failover between two real `pulsebridge run` replicas on one PostgreSQL.

    .venv/bin/python benchmarks/failover.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test --lease 30 --rounds 3

Measures the time from kill -9 of the leader to the standby's first scheduled run (sync every 2 s),
and from SIGTERM of the leader to the standby's first run. Run by hand; results in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tests.test_replicas as replicas  # noqa: E402
from tests.conftest import ORG_YAML  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402


async def round_trip(url: str, how: signal.Signals, config: Path) -> float:
    fake = FakeSlackAPI()
    await fake.start()
    for i in range(5):
        fake.add_user(f"U{i}", f"Person {i}", f"p{i}@example.com")
    procs = []
    try:
        procs = [await replicas.start_replica(n, url, fake, config) for n in ("alpha", "bravo")]
        first = await replicas.wait_syncs(fake, lambda s: len(s) >= 1, 120, "a first sync")
        leader = next(r for r in procs if r.token == first[0][1])
        standby = next(r for r in procs if r is not leader)
        leader.proc.send_signal(how)
        await leader.proc.wait()
        stopped = time.time()
        after = await replicas.wait_syncs(fake, lambda s: any(t == standby.token for _, t in s), 120, "the standby")
        return min(at for at, t in after if t == standby.token) - stopped
    finally:
        for r in procs:
            if r.proc.returncode is None:
                r.proc.send_signal(signal.SIGTERM)
                await r.proc.wait()
        await fake.stop()


async def main(database: str, lease: float, rounds: int) -> None:
    replicas.LEASE = lease
    config = Path(tempfile.mkdtemp()) / "org.yaml"
    config.write_text(ORG_YAML)
    for how in (signal.SIGKILL, signal.SIGTERM):
        times = []
        for _ in range(rounds):
            with replicas.throwaway_schema(database) as url:
                times.append(await round_trip(url, how, config))
        print(f"lease {lease:4.0f} s  {how.name:8}  takeover after {', '.join(f'{t:.1f}' for t in times)} s (max {max(times):.1f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--lease", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.database, args.lease, args.rounds))
