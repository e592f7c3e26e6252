"""A directory sync that succeeds with the wrong answer must not empty the company.

A mis-scoped token or a guest-only view lists 3 of 400 people, and the sync would deactivate the
other 397 (pulses stop, kudos are refused). The sync refuses what would deactivate more than
`directory.max_deactivate_share` (20 %) or re-id more than `max_id_change_share` (5 %) of active
people, changes nothing, tells the admins, and `pulsebridge directory sync --force` applies it.
"""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import func, select

from bot.directory.sync import sync_all
from storage.kernel.db import make_engine, session
from storage.directory.tables import User
from tests.conftest import ORG_YAML, child_env, handled
from tests.recognition_support import custom_server, slack_texts


def _company(fake, n: int = 400) -> None:
    fake.users.clear()
    fake.add_user("U0OLGA", "Olga Admin", "olga@example.com")
    for i in range(n - 1):
        fake.add_user(f"U1{i:04d}", f"Person {i}", f"p{i}@example.com")


def _active(engine) -> int:
    with session(engine) as s:
        return s.execute(select(func.count()).select_from(User).where(User.platform == "slack", User.active.is_(True))).scalar_one()


async def test_a_listing_of_3_of_400_people_is_refused_and_the_admins_are_told(database_url, fake_slack, fake_connector):
    _company(fake_slack)
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        assert [r.line() for r in await sync_all(server.core) if r.platform == "slack"] == ["slack: 400 listed, 0 deactivated"]
        assert _active(server.engine) == 400
        keep = {"U0OLGA", "U10000", "U10001"}
        for uid in list(fake_slack.users):
            if uid not in keep:
                del fake_slack.users[uid]

        (report,) = [r for r in await sync_all(server.core) if r.platform == "slack"]
        await handled(server)
        assert report.refused and "deactivate 397 of 400 active people (99%" in report.line() and report.deactivated == []
        assert _active(server.engine) == 400  # nobody deactivated
        to_admin = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0OLGA"]
        assert len(to_admin) == 1 and "directory sync was refused" in slack_texts(to_admin[0]) and "--force" in slack_texts(to_admin[0])

        # The same refusal again that day: the admins were told already.
        await sync_all(server.core)
        await handled(server)
        assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0OLGA"]) == 1

        (forced,) = [r for r in await sync_all(server.core, force=True) if r.platform == "slack"]
        assert not forced.refused and len(forced.deactivated) == 397 and _active(server.engine) == 3


async def test_leavers_within_the_share_are_deactivated_as_before(database_url, fake_slack, fake_connector):
    _company(fake_slack, 100)
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        await sync_all(server.core)
        for i in range(20):  # 20 of 100: exactly the share allowed
            del fake_slack.users[f"U1{i:04d}"]
        (report,) = [r for r in await sync_all(server.core) if r.platform == "slack"]
        assert not report.refused and len(report.deactivated) == 20 and _active(server.engine) == 80
        del fake_slack.users["U10020"]  # 1 of 80 more: fine
        (report,) = [r for r in await sync_all(server.core) if r.platform == "slack"]
        assert not report.refused and report.deactivated == ["U10020"]


async def test_accounts_the_platform_flags_deleted_do_not_count_against_the_share(database_url, fake_slack, fake_connector):
    _company(fake_slack, 10)
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        await sync_all(server.core)
        for i in range(5):
            fake_slack.users[f"U1{i:04d}"]["deleted"] = True  # the platform's own word: they left
        (report,) = [r for r in await sync_all(server.core) if r.platform == "slack"]
        assert not report.refused and len(report.deactivated) == 5


async def test_many_people_under_new_ids_is_refused(database_url, fake_slack, fake_connector):
    _company(fake_slack, 100)
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        await sync_all(server.core)
        for i in range(10):  # 10 % re-listed under a new id with the same email (a migrated workspace)
            old = fake_slack.users.pop(f"U1{i:04d}")
            fake_slack.add_user(f"W9{i:04d}", old["real_name"], old["profile"]["email"])
        (report,) = [r for r in await sync_all(server.core) if r.platform == "slack"]
        assert report.refused and "10 of 100 active people are listed under a new id" in report.refused
        with session(server.engine) as s:
            assert s.execute(select(func.count()).select_from(User).where(User.external_id.like("W9%"))).scalar_one() == 0


async def test_the_guard_share_is_configurable(database_url, fake_slack, fake_connector):
    _company(fake_slack, 100)
    yaml = ORG_YAML + "directory:\n  max_deactivate_share: 0.5\n"
    async with custom_server(database_url, fake_slack, fake_connector, yaml) as server:
        await sync_all(server.core)
        for i in range(40):
            del fake_slack.users[f"U1{i:04d}"]
        (report,) = [r for r in await sync_all(server.core) if r.platform == "slack"]
        assert not report.refused and len(report.deactivated) == 40


async def _cli(database_url, fake_slack, *args):
    env = {**os.environ, "DATABASE_URL": database_url, "SLACK_BOT_TOKEN": "xoxb-cli-token", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": fake_slack.url + "/api/"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "directory", "sync", *args,
        env=child_env(env), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode, out.decode(), err.decode()


async def test_cli_refuses_with_exit_1_and_force_applies(database_url, fake_slack):
    _company(fake_slack, 50)
    code, out, err = await _cli(database_url, fake_slack)
    assert code == 0, err
    for uid in [u for u in fake_slack.users if u != "U0OLGA"][:45]:
        del fake_slack.users[uid]
    code, out, err = await _cli(database_url, fake_slack)
    assert code == 1 and "slack: refused, nothing changed: it would deactivate 45 of 50" in out and "--force" in err
    code, out, err = await _cli(database_url, fake_slack, "--force")
    assert code == 0 and "slack: 5 listed, 45 deactivated" in out, out + err
    engine = make_engine(database_url)
    try:
        assert _active(engine) == 5
    finally:
        engine.dispose()
