"""Directory sync against the fake Slack API and Bot Connector: paging, 429s, leavers, groups, YAML precedence."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from sqlalchemy import func, select

from bot.directory.sync import sync_all, sync_platform
from bot.kernel.errors import ConfigError
from bot.app import parse_org_config
from bot.kernel.settings import load_settings
from storage.kernel.db import session
from storage.directory.tables import ConversationRef, Team, TeamMember, User
from storage.recognition.tables import Kudos
from tests.conftest import ORG_YAML, child_env, make_settings, start_server
from bot.directory.sync import sync_org_teams

SYNC = "directory.sync"


def users(engine, platform: str) -> dict[str, User]:
    with session(engine) as s:
        return {u.external_id: u for u in s.execute(select(User).where(User.platform == platform)).scalars()}


def members(engine, slug: str) -> set[str]:
    with session(engine) as s:
        return set(
            s.execute(select(TeamMember.identifier).join(Team, Team.id == TeamMember.team_id).where(Team.slug == slug)).scalars()
        )


async def test_slack_sync_follows_every_page_and_waits_out_a_429(server):
    server.slack.page_limit = 2  # 6 users → 3 pages
    server.slack.fail_next("users.list", 429)

    await server.core.jobs[SYNC](server.core)

    pages = server.slack.calls_to("users.list")
    assert [c.params.get("cursor") for c in pages] == [None, "page:2", "page:4"]
    assert len(server.slack.calls_to("users.list:rejected")) == 1
    stored = users(server.engine, "slack")
    assert set(stored) == {"U0ANA", "U0BOB", "U0CARLA", "U0DAN", "U0ERIN", "U0ROBOT"}
    assert (stored["U0BOB"].email, stored["U0BOB"].display_name, stored["U0BOB"].timezone) == ("bob@example.com", "Bob Stone", "Europe/Berlin")
    assert stored["U0ROBOT"].is_bot and all(u.active for u in stored.values())


async def test_people_who_leave_are_deactivated_not_deleted_and_get_no_kudos(server):
    await server.core.jobs[SYNC](server.core)
    server.slack.users["U0ERIN"]["deleted"] = True  # deactivated account: still listed, flagged
    del server.slack.users["U0CARLA"]  # gone from the listing altogether

    reports = [r for r in await sync_all(server.core) if r.platform == "slack"]

    assert sorted(reports[0].deactivated) == ["U0CARLA", "U0ERIN"]
    stored = users(server.engine, "slack")
    assert not stored["U0ERIN"].active and not stored["U0CARLA"].active
    assert stored["U0ERIN"].email == "erin@example.com"  # the row and its history stay
    assert all(stored[u].active for u in ("U0ANA", "U0BOB", "U0DAN"))

    await server.slack_command("/kudos", "<@U0ERIN|erin> for the handover notes")
    reply = (await server.slack.wait_for("response_url"))[0]
    assert "couldn't find" in reply.params["text"]
    with session(server.engine) as s:
        assert s.execute(select(func.count()).select_from(Kudos)).scalar_one() == 0


async def test_a_failed_listing_changes_nothing(server):
    await server.core.jobs[SYNC](server.core)
    server.slack.page_limit = 2
    del server.slack.users["U0BOB"]
    # The second page fails for good (not a 429): absence from a partial listing proves nothing.
    original = server.slack._users_list

    def failing(params):
        if params.get("cursor"):
            return {"ok": False, "error": "internal_error"}
        return original(params)

    server.slack._users_list = failing

    report = await sync_platform(server.core, "slack")

    assert report.error and "internal_error" in report.error
    assert all(u.active for u in users(server.engine, "slack").values())


@pytest.fixture
async def grouped(database_url, fake_slack, fake_connector):
    yaml = ORG_YAML + "directory:\n  slack_user_groups: [support, sre]\n"
    fake_slack.add_usergroup("S0SUP", "support", "Support (Slack group)", ["U0ERIN"])
    fake_slack.add_usergroup("S0SRE", "sre", "Site Reliability", ["U0DAN", "U0ERIN"], channels=["C0SRE"])
    fake_slack.add_usergroup("S0ONCALL", "oncall", "On call", ["U0BOB"])
    runner, srv = await start_server(make_settings(database_url, fake_slack.url), fake_slack, fake_connector, yaml)
    yield srv
    await runner.cleanup()
    srv.engine.dispose()


async def test_slack_user_groups_become_teams_but_the_yaml_wins(grouped):
    report = next(r for r in await sync_all(grouped.core) if r.platform == "slack")

    assert report.teams == ["sre"]  # "support" is defined in the YAML, "oncall" was not asked for
    assert members(grouped.engine, "sre") == {"slack:U0DAN", "slack:U0ERIN"}
    assert members(grouped.engine, "support") == {"ana@example.com", "bob@example.com", "carla@example.com"}
    with session(grouped.engine) as s:
        sre = s.execute(select(Team).where(Team.slug == "sre")).scalar_one()
        assert (sre.name, sre.slack_channel, sre.source) == ("Site Reliability", "C0SRE", "slack")
        assert s.execute(select(Team).where(Team.slug == "oncall")).scalar_one_or_none() is None
        assert s.execute(select(Team.source).where(Team.slug == "support")).scalar_one() == "config"
    usergroups = grouped.slack.calls_to("usergroups.list")
    assert len(usergroups) == 1 and usergroups[0].params["include_users"] in ("1", "true", True)

    # Re-applying the YAML (every start) leaves group teams alone; a vanished group empties its team.
    sync_org_teams(grouped.core)
    assert members(grouped.engine, "sre") == {"slack:U0DAN", "slack:U0ERIN"}
    grouped.slack.usergroups = [g for g in grouped.slack.usergroups if g["handle"] != "sre"]
    await grouped.core.jobs[SYNC](grouped.core)
    assert members(grouped.engine, "sre") == set()


def test_bad_group_handle_and_bad_schedule_are_named():
    with pytest.raises(ConfigError, match=r"<config>:3: directory.slack_user_groups: 'Not A Handle!' is not a Slack user group handle"):
        parse_org_config("teams: {}\ndirectory:\n  slack_user_groups: ['Not A Handle!']\n")
    with pytest.raises(ConfigError, match="PULSEBRIDGE_DIRECTORY_SYNC_CRON: expected 5 crontab fields"):
        load_settings(_env_file=None, PULSEBRIDGE_DIRECTORY_SYNC_CRON="daily")


CHANNEL = {"id": "19:support@thread.tacv2;messageid=1700000000001", "conversationType": "channel", "isGroup": True, "tenantId": "tenant-1"}


async def test_teams_roster_pages_through_installed_teams_and_keeps_references(server):
    server.connector.page_limit = 1
    server.connector.add_member("29:erin", "Erin Park", "erin@example.com")
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> help", conversation=CHANNEL))
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> help", sender=("29:bob", "Bob Stone")))
    await server.connector.wait_for(2)
    assert len(server.connector.member_pages) == 4  # first contact with the channel already learned its 4 members
    server.connector.member_pages.clear()

    await server.core.jobs[SYNC](server.core)

    assert server.connector.member_pages == ["19:support@thread.tacv2"] * 4
    stored = users(server.engine, "teams")
    assert {k for k, u in stored.items() if u.active} == {"29:ana", "29:bob", "29:dan", "29:erin"}
    assert stored["29:erin"].email == "erin@example.com"

    # Bob leaves the organisation: gone from the team and from the tenant (his 1:1 chat answers 404).
    server.connector.rosters["19:support@thread.tacv2"] = ["29:ana", "29:dan", "29:erin"]
    del server.connector.members["29:bob"]
    with session(server.engine) as s:
        refs_before = s.execute(select(func.count()).select_from(ConversationRef)).scalar_one()
    await server.core.jobs[SYNC](server.core)

    stored = users(server.engine, "teams")
    assert not stored["29:bob"].active and stored["29:ana"].active
    with session(server.engine) as s:
        assert s.execute(select(func.count()).select_from(ConversationRef)).scalar_one() == refs_before


async def test_teams_people_who_only_chat_one_to_one_stay_active(server):
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> help", conversation=CHANNEL))
    carl = {"id": "a:personal-29:carl", "conversationType": "personal", "tenantId": "tenant-1"}
    server.connector.add_member("29:carl", "Carl Ito", "carl@example.com")
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> help", sender=("29:carl", "Carl Ito"), conversation=carl))
    await server.connector.wait_for(2)
    server.connector.rosters["19:support@thread.tacv2"] = ["29:ana", "29:dan"]  # Carl is in no team with the bot

    await server.core.jobs[SYNC](server.core)

    assert users(server.engine, "teams")["29:carl"].active
    assert users(server.engine, "teams")["29:carl"].email == "carl@example.com"

    del server.connector.members["29:carl"]  # he left: his chat no longer knows him
    await server.core.jobs[SYNC](server.core)
    assert not users(server.engine, "teams")["29:carl"].active


async def test_teams_sync_without_any_installed_team_deactivates_nobody(server):
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> help"))
    await server.connector.wait_for(1)


    report = await sync_platform(server.core, "teams")

    assert not report.complete and report.deactivated == []
    assert users(server.engine, "teams")["29:ana"].active


async def test_scheduled_sync_runs_on_its_cron(database_url, fake_slack, fake_connector):
    settings = make_settings(database_url, fake_slack.url, PULSEBRIDGE_SCHEDULER=True, PULSEBRIDGE_DIRECTORY_SYNC_CRON="* * * * * *")
    runner, srv = await start_server(settings, fake_slack, fake_connector)
    try:
        await fake_slack.wait_for("users.list", 1, timeout=10)
    finally:
        await runner.cleanup()
        srv.engine.dispose()
    assert users(srv.engine, "slack")["U0ANA"].email == "ana@example.com"


async def test_cli_directory_sync(database_url, fake_slack):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-cli-token",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": fake_slack.url + "/api/",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "directory", "sync",
        env=child_env(env), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "slack: 6 listed, 0 deactivated" in out.decode()
    from storage.kernel.db import make_engine

    engine = make_engine(database_url)
    try:
        assert users(engine, "slack")["U0DAN"].email == "dan@example.com"
    finally:
        engine.dispose()


async def test_active_team_users_skips_people_who_left(server):
    from storage.directory.sync import active_team_users

    await server.core.jobs[SYNC](server.core)
    server.slack.users["U0BOB"]["deleted"] = True
    await server.core.jobs[SYNC](server.core)

    with session(server.engine) as s:
        support = s.execute(select(Team).where(Team.slug == "support")).scalar_one()
        names = [u.external_id for u in active_team_users(s, support.id)]
    assert names == ["U0ANA", "U0CARLA"]  # members by email; Bob left, so pulses and digests skip him


async def test_playground_people_are_left_as_they_are(database_url, fake_slack):
    from adapters.server import CORE, build_app
    from bot.demo import seed as demo

    app = build_app(make_settings(database_url, fake_slack.url), org=demo.demo_org(), playground=True, bind_host="127.0.0.1")
    core = app[CORE]
    try:
        demo.seed(core, days=1)
        before = {k: (u.display_name, u.email, u.active) for k, u in users(core.engine, "playground").items()}

        report = await sync_platform(core, "playground")

        assert report.listed == len(before) > 0 and report.deactivated == []
        assert {k: (u.display_name, u.email, u.active) for k, u in users(core.engine, "playground").items()} == before
    finally:
        core.engine.dispose()
