"""Start-up and idle memory of a real `pulsebridge run` with a 10,000-person org file.

    python benchmarks/startup.py [--people 10000] [--runs 3]

Per run: a fresh, migrated database, started twice (first start, then a restart on it); `python -m adapters.cli run` (Slack against a fake Web API on
loopback, no Teams); wall time from spawn until GET /healthz answers 200; then, after 3 s idle,
the process's resident set (VmRSS). Run by hand; the numbers go in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def org_yaml(people: int) -> str:
    teams = []
    for t in range(people // 100):
        members = ", ".join(f"p{t * 100 + i}@example.com" for i in range(100))
        teams.append(f"  team{t}:\n    name: Team {t}\n    slack_channel: C{t:08d}\n    members: [{members}]\n")
    return "teams:\n" + "".join(teams)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def one(db_url: str, config: Path, slack_url: str, secret: bool = False) -> tuple[float, float]:
    import aiohttp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "PULSEBRIDGE_"))}
    env.update(DATABASE_URL=db_url, SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET="bench-secret", SLACK_API_URL=slack_url + "/api/",
               PULSEBRIDGE_CONFIG=str(config), PULSEBRIDGE_METRICS_LISTEN="off", PYTHONPATH=str(ROOT))
    if secret:  # pulses on: respondent keys, and accepted requests sealed (bot/kernel/sealed.py)
        env["PULSEBRIDGE_SECRET_KEY"] = "s" * 40
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "adapters.cli", "run", "--host", "127.0.0.1", "--port", str(port),
                                                env=env, cwd=str(ROOT), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        async with aiohttp.ClientSession() as http:
            while True:
                if proc.returncode is not None:
                    raise RuntimeError("pulsebridge run exited")
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.02)
        ready = time.perf_counter() - start
        await asyncio.sleep(3)
        return ready, rss_mb(proc.pid)
    finally:
        proc.terminate()
        await proc.wait()


async def main(args) -> None:
    from storage.kernel.migrate import upgrade
    from tests.fakes.slack_api import FakeSlackAPI

    slack = FakeSlackAPI()
    await slack.start()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "org.yaml"
        config.write_text(org_yaml(args.people))
        restarts = []
        for run in range(args.runs):
            db_url = f"sqlite:///{tmp}/start{run}.db"
            upgrade(db_url)
            results.append(await one(db_url, config, slack.url, args.secret))
            restarts.append(await one(db_url, config, slack.url, args.secret))  # the same database again: a restart or a deploy
    await slack.stop()
    for name, rows in (("first start (fresh database)", results), ("restart (same database)", restarts)):
        ready = [r for r, _ in rows]
        rss = [m for _, m in rows]
        print(f"people={args.people} runs={args.runs}, {name}: run → /healthz 200 median {statistics.median(ready):.2f} s "
              f"(min {min(ready):.2f}, max {max(ready):.2f}); idle RSS median {statistics.median(rss):.0f} MB (min {min(rss):.0f}, max {max(rss):.0f})")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=10000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--secret", action="store_true", help="set PULSEBRIDGE_SECRET_KEY (pulses on), as a production server has it")
    asyncio.run(main(p.parse_args()))
