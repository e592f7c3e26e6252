"""The fake Slack Web API in a process of its own, for benchmarks whose parent measures latencies.

In the measuring process it shares one event loop with the load generator and the probes: at 100
DMs/s it parses and checks every message's blocks on that loop, and each probe's answer waits
behind that work before its time is read, so the server is charged with the fake's lag. Here it
runs on its own interpreter:

    fake = await FakeSlackProcess.start(rate=100, users=2000)   # fake.url
    await fake.counts()   # what it received so far: {"calls": {method: n}, "dms": n}
    await fake.stop()     # the same, and the process exits
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class FakeSlackProcess:
    def __init__(self, proc: asyncio.subprocess.Process, url: str):
        self.proc = proc
        self.url = url

    @classmethod
    async def start(cls, *, users: int, rate: float | None = None, tz: str = "UTC") -> FakeSlackProcess:
        """`users` people U0000000…; chat.postMessage limited to `rate`/s (429 beyond) when given."""
        options = json.dumps({"users": users, "rate": rate, "tz": tz})
        proc = await asyncio.create_subprocess_exec(sys.executable, __file__, options, stdout=asyncio.subprocess.PIPE, cwd=str(ROOT))
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            raise SystemExit("the fake Slack process did not start")
        return cls(proc, json.loads(line)["url"])

    async def counts(self) -> dict:
        """What the fake has received so far."""
        self.proc.send_signal(signal.SIGUSR1)
        return json.loads(await asyncio.wait_for(self.proc.stdout.readline(), 60))

    async def stop(self) -> dict:
        """What the fake received (its process exits)."""
        self.proc.send_signal(signal.SIGTERM)
        out = await asyncio.wait_for(self.proc.stdout.read(), 60)
        await self.proc.wait()
        return json.loads(out)


async def _child(users: int, rate: float | None, tz: str) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.ack_load import person
    from tests.fakes.slack_api import FakeSlackAPI

    slack = FakeSlackAPI()
    await slack.start()
    if rate is not None:
        slack.limit_rate("chat.postMessage", rate)
    for i in range(users):
        slack.add_user(person(i), f"Person {i}", f"p{i}@example.com", tz=tz)
    def report() -> None:
        calls = Counter(c.method for c in slack.calls)
        dms = sum(1 for c in slack.calls if c.method == "chat.postMessage" and c.params.get("channel", "").startswith("U"))
        print(json.dumps({"calls": calls, "dms": dms}), flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, report)
    print(json.dumps({"url": slack.url}), flush=True)
    await stop.wait()
    await slack.stop()
    report()


if __name__ == "__main__":
    asyncio.run(_child(**json.loads(sys.argv[1])))
