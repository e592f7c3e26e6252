"""Several `pulsebridge run` processes on one PostgreSQL: all serve HTTP, exactly one runs the scheduler;
or web replicas without a scheduler beside a `pulsebridge worker` that runs it and serves no requests.

Real processes, a real database, the fake Slack API in this test process. Each replica uses its
own bot token, so the fake can tell which process ran each scheduled directory sync.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import aiohttp
import pytest

from storage.kernel.db import make_engine
from storage.kernel.leases import holder_of, release, try_acquire
from tests.conftest import ORG_YAML, POSTGRES_ENV, throwaway_schema
from tests.test_operations import free_port, run_env, wait_healthy

TICK = 2  # seconds between scheduled syncs in this test
LEASE = 3  # seconds; a crashed leader is replaced within LEASE + 1 s (the standby's poll)


@pytest.fixture
def postgres_url():
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"replicas need PostgreSQL: set {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    with throwaway_schema(base) as url:
        yield url


def test_lease_is_exclusive_until_it_expires_or_is_released(postgres_url):
    engine = make_engine(postgres_url)
    try:
        assert try_acquire(engine, "scheduler", "a", 30)
        assert not try_acquire(engine, "scheduler", "b", 30)
        assert try_acquire(engine, "scheduler", "a", 30)  # renewal
        release(engine, "scheduler", "a")
        assert holder_of(engine, "scheduler") is None
        assert try_acquire(engine, "scheduler", "b", 0.5)
        assert not try_acquire(engine, "scheduler", "a", 30)
        deadline = time.monotonic() + 5
        while not try_acquire(engine, "scheduler", "a", 30):  # b stopped renewing: its lease runs out
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert holder_of(engine, "scheduler") == "a"
    finally:
        engine.dispose()


class Replica:
    def __init__(self, name: str, proc: asyncio.subprocess.Process, url: str, token: str):
        self.name, self.proc, self.url, self.token = name, proc, url, token


async def start_replica(name: str, postgres_url: str, fake_slack, config, command: str = "run", scheduler: bool = True) -> Replica:
    port = free_port()
    token = f"xoxb-replica-{name}"
    env = run_env(
        postgres_url, fake_slack.url, config,
        SLACK_BOT_TOKEN=token,
        PULSEBRIDGE_SCHEDULER=str(scheduler).lower(),
        PULSEBRIDGE_DIRECTORY_SYNC_CRON=f"*/{TICK} * * * * *",
        PULSEBRIDGE_LEADER_LEASE_SECONDS=str(LEASE),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", command, "--host", "127.0.0.1", "--port", str(port),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    replica = Replica(name, proc, f"http://127.0.0.1:{port}", token)
    await wait_healthy(replica.url, proc)
    return replica


async def stop_replicas(replicas: list[Replica]) -> None:
    for replica in replicas:
        if replica.proc.returncode is None:
            replica.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(replica.proc.wait(), 30)
            except TimeoutError:
                replica.proc.kill()
                await replica.proc.wait()


def syncs(fake_slack) -> list[tuple[float, str]]:
    """(wall-clock time, token) of every scheduled sync: one first-page users.list call each."""
    offset = time.time() - time.monotonic()
    return [(c.at + offset, c.params["_auth"].removeprefix("Bearer ")) for c in fake_slack.calls_to("users.list") if not c.params.get("cursor")]


async def wait_syncs(fake_slack, predicate, timeout: float, what: str) -> list[tuple[float, str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = syncs(fake_slack)
        if predicate(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {syncs(fake_slack)}")


async def health(replica: Replica) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(replica.url + "/healthz") as resp:
            assert resp.status == 200
            return await resp.json()


# The lease lives in PostgreSQL's clock, which --clock cannot move; this test times fail-over and
# two-second ticks across three processes against it, so it runs on the real clock.
@pytest.mark.real_clock("fail-over timing is measured against PostgreSQL's own clock")
async def test_one_leader_runs_each_tick_once_and_a_standby_takes_over_after_kill_9(postgres_url, fake_slack, tmp_path):
    config = tmp_path / "org.yaml"
    config.write_text(ORG_YAML)
    replicas = [await start_replica(n, postgres_url, fake_slack, config) for n in ("alpha", "bravo")]
    try:
        first = await wait_syncs(fake_slack, lambda s: len(s) >= 3, 30, "three scheduled syncs")
        leader = next(r for r in replicas if r.token == first[0][1])
        standby = next(r for r in replicas if r is not leader)
        assert {token for _, token in first} == {leader.token}  # the standby never ran the job
        assert (await health(leader))["scheduler"] == "running"
        assert (await health(standby))["scheduler"] == "standby"  # but it serves HTTP

        leader.proc.send_signal(signal.SIGKILL)
        await leader.proc.wait()
        killed_at = time.time()

        after = await wait_syncs(
            fake_slack, lambda s: sum(1 for _, t in s if t == standby.token) >= 3, 60, "three syncs by the standby"
        )
        taken_over = min(at for at, token in after if token == standby.token)
        assert taken_over - killed_at < 60
        assert taken_over - killed_at < LEASE + 1 + TICK + 1  # lease, standby poll, next tick, slack
        assert (await health(standby))["scheduler"] == "running"

        # Exactly once per tick: no tick ran twice, on either replica, before or after the failover.
        ticks = [int(at // TICK) for at, _ in after]
        assert len(ticks) == len(set(ticks)), after
        # Nothing lost while both ran, nor once the standby had taken over: every tick has its sync.
        for token in (leader.token, standby.token):
            own = sorted(int(at // TICK) for at, t in after if t == token)
            assert own == list(range(own[0], own[0] + len(own))), (token, own)
        # Before the kill only the leader ran it.
        assert all(t == leader.token for at, t in after if at < killed_at)
    finally:
        await stop_replicas(replicas)


async def test_sigterm_hands_the_scheduler_over_at_once(postgres_url, fake_slack, tmp_path):
    config = tmp_path / "org.yaml"
    config.write_text(ORG_YAML)
    replicas = [await start_replica(n, postgres_url, fake_slack, config) for n in ("alpha", "bravo")]
    try:
        first = await wait_syncs(fake_slack, lambda s: len(s) >= 1, 30, "a scheduled sync")
        leader = next(r for r in replicas if r.token == first[0][1])
        standby = next(r for r in replicas if r is not leader)

        leader.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(leader.proc.wait(), 30) == 0
        stopped_at = time.time()

        after = await wait_syncs(fake_slack, lambda s: any(t == standby.token for _, t in s), 30, "a sync by the standby")
        taken_over = min(at for at, token in after if token == standby.token)
        # Released, not expired: the standby starts at its next attempt (1 s) and runs the next tick.
        assert taken_over - stopped_at < 1 + TICK + 1
        ticks = [int(at // TICK) for at, _ in after]
        assert len(ticks) == len(set(ticks)), after
    finally:
        await stop_replicas(replicas)


@pytest.mark.parametrize("failure", ["refused", "hangs"])
async def test_a_leader_that_cannot_renew_steps_down_before_its_lease_expires(monkeypatch, failure):
    """Self-fencing: the database lets a standby in at (last renewal + ttl); the old leader must be gone by then."""
    from bot.kernel.leader import LeaderElection

    calls = {"n": 0}

    def attempt(*_args):
        calls["n"] += 1
        if calls["n"] == 1:
            return True
        if failure == "hangs":
            time.sleep(2)  # a database that stopped answering
        return False

    monkeypatch.setattr("bot.kernel.leader.try_acquire", attempt)
    events: list[tuple[str, float]] = []
    ttl = 0.9

    async def up() -> None:
        events.append(("up", time.monotonic()))

    async def down() -> None:
        events.append(("down", time.monotonic()))

    election = LeaderElection(None, ttl=ttl, on_elected=up, on_deposed=down)
    started = time.monotonic()
    election.start()
    try:
        deadline = time.monotonic() + 5
        while not any(kind == "down" for kind, _ in events):
            assert time.monotonic() < deadline, events
            await asyncio.sleep(0.01)
    finally:
        await election.stop()
    assert [k for k, _ in events] == ["up", "down"]
    down = events[1][1]
    assert down - started < ttl  # the lease taken at `started` cannot expire before started + ttl
    assert not election.leader


async def test_a_worker_runs_the_scheduled_work_and_web_replicas_answer_the_requests(postgres_url, fake_slack, tmp_path):
    from urllib.parse import urlencode

    from tests.test_operations import signed

    config = tmp_path / "org.yaml"
    config.write_text(ORG_YAML)
    web = await start_replica("web", postgres_url, fake_slack, config, scheduler=False)
    # Started with the web replicas' PULSEBRIDGE_SCHEDULER=false (one env file for both): running the scheduler is its job.
    worker = await start_replica("worker", postgres_url, fake_slack, config, command="worker", scheduler=False)
    try:
        found = await wait_syncs(fake_slack, lambda s: len(s) >= 2, 30, "two scheduled syncs")
        assert {token for _, token in found} == {worker.token}
        assert (await health(worker))["scheduler"] == "running"
        assert (await health(web))["scheduler"] == "standby"

        body = urlencode({"command": "/kudos", "text": "<@U0BOB|bob> for the calm release", "user_id": "U0ANA", "user_name": "ana",
                          "team_id": "T0001", "channel_id": "D0ANA", "response_url": fake_slack.url + "/response/worker-test",
                          "trigger_id": "t.worker"}).encode()
        async with aiohttp.ClientSession() as http:
            for replica, status in ((worker, 404), (web, 200)):  # the worker takes no platform's requests
                async with http.post(replica.url + "/slack/events", data=body, headers=signed(body)) as resp:
                    assert resp.status == status, replica.name
            for path in ("/api/messages", "/webhooks/feedback"):
                async with http.post(worker.url + path, json={}) as resp:
                    assert resp.status == 404, path
        confirmation = (await fake_slack.wait_for("response_url"))[0]
        assert "bob" in str(confirmation.params).lower()
        dm = next(c for c in await fake_slack.wait_for("chat.postMessage") if c.params.get("channel") == "U0BOB")
        assert dm.params["_auth"] == f"Bearer {web.token}"  # sent by the replica that took the request
    finally:
        await stop_replicas([web, worker])


def test_a_worker_on_sqlite_refuses_in_one_line(tmp_path):
    from tests.test_cli import cli, one_line_error

    config = tmp_path / "org.yaml"
    config.write_text(ORG_YAML)
    url = f"sqlite:///{tmp_path}/pb.db"
    assert cli(tmp_path, "db", "upgrade", env={"DATABASE_URL": url}).returncode == 0
    result = cli(tmp_path, "worker", "--host", "127.0.0.1", "--port", str(free_port()), env={"DATABASE_URL": url, "PULSEBRIDGE_CONFIG": str(config)})
    assert "pulsebridge worker needs PostgreSQL" in one_line_error(result)
