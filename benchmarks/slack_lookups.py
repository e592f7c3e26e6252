"""How long a /win with N new contributors takes to ack and to confirm, with a slow users.info (fake Slack on loopback).

    .venv/bin/python benchmarks/slack_lookups.py --people 20 --delay 0.15 [--concurrency 1]

Slack shows an error when a view_submission is not acked within 3 s. `--concurrency 1` shows the
look-ups one after another, as before issue 14 (the 2 s ack deadline still closes the modal).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.directory import lookup  # noqa: E402
from storage.kernel.migrate import upgrade  # noqa: E402
from tests.conftest import ORG_YAML, handled, make_settings, start_server  # noqa: E402
from tests.fakes.bot_connector import FakeBotConnector  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402
from tests.recognition_support import win_state  # noqa: E402


async def main(people: int, delay: float, concurrency: int) -> None:
    lookup.LOOKUP_CONCURRENCY = concurrency
    slack, connector = FakeSlackAPI(), FakeBotConnector()
    await slack.start()
    await connector.start()
    slack.add_user("U0ANA", "Ana Lima", "ana@example.com")
    ids = tuple(f"U0NEW{i:03d}" for i in range(people))
    for i, uid in enumerate(ids):
        slack.add_user(uid, f"New Person {i}", f"new{i}@example.com")
    slack.delays["users.info"] = delay
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade(url)
    runner, server = await start_server(make_settings(url, slack.url), slack, connector, ORG_YAML)
    try:
        start = time.perf_counter()
        status, _ = await server.slack_interaction(server.view_submission("win.record", win_state(contributors=ids)))
        acked = time.perf_counter() - start
        await handled(server, timeout=120)
        done = time.perf_counter() - start
        print(f"{people} new contributors, users.info {delay * 1000:.0f} ms, {concurrency} at a time: "
              f"ack {acked:.2f} s (HTTP {status}), confirmation and DMs sent after {done:.2f} s, {len(slack.calls_to('users.info'))} users.info calls")
    finally:
        await runner.cleanup()
        server.engine.dispose()
        await slack.stop()
        await connector.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.15)
    parser.add_argument("--concurrency", type=int, default=lookup.LOOKUP_CONCURRENCY)
    args = parser.parse_args()
    asyncio.run(main(args.people, args.delay, args.concurrency))
