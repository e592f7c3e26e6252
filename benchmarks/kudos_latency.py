"""End-to-end /kudos latency through the real HTTP endpoint against the fake Slack Web API.

    python benchmarks/kudos_latency.py [--n 300] [--database-url sqlite:///...]

Measures, per signed slash command: time to the HTTP ack, and time until the recipient's DM and the
team-channel post have reached the fake Slack API. Run by hand; results go in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.kernel.migrate import upgrade  # noqa: E402
from tests.conftest import make_settings, start_server  # noqa: E402
from tests.fakes.bot_connector import FakeBotConnector  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main(n: int, database_url: str | None) -> None:
    tmp = tempfile.mkdtemp()
    url = database_url or f"sqlite:///{tmp}/bench.db"
    upgrade(url)
    slack, connector = FakeSlackAPI(), FakeBotConnector()
    await slack.start()
    await connector.start()
    slack.add_user("U0ANA", "Ana Lima", "ana@example.com")
    slack.add_user("U0BOB", "Bob Stone", "bob@example.com")
    # One giver per kudos: the per-pair daily limit refuses a second kudos from Ana to Bob, which left
    # this loop waiting forever for DMs that were never sent.
    for i in range(n):
        slack.add_user(f"UG{i:05d}", f"Giver {i}", f"giver{i}@example.com")
    runner, srv = await start_server(make_settings(url, slack.url), slack, connector)
    acks, done = [], []
    try:
        for i in range(n):
            posts_before = len(slack.calls_to("chat.postMessage"))
            started = time.perf_counter()
            status, _ = await srv.slack_command("/kudos", f"<@U0BOB|bob> for benchmark run {i}", user_id=f"UG{i:05d}")
            acks.append(time.perf_counter() - started)
            assert status == 200
            while len(slack.calls_to("chat.postMessage")) < posts_before + 2:
                await asyncio.sleep(0.001)
            done.append(time.perf_counter() - started)
    finally:
        await runner.cleanup()
        await slack.stop()
        await connector.stop()
    backend = url.split(":", 1)[0]
    print(f"backend={backend} n={n}")
    for name, values in (("http ack", acks), ("DM + channel post delivered", done)):
        print(f"{name:30s} p50={statistics.median(values) * 1000:6.1f} ms  p95={pct(values, 95) * 1000:6.1f} ms  max={max(values) * 1000:6.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.database_url))
