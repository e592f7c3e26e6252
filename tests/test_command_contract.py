"""Every registered command, button and form against the contract in tests/command_contract.py, on
Slack, Teams and the playground, served by one app per database for the whole module."""

from __future__ import annotations

import os

import aiohttp
import pytest
import pytest_asyncio

from bot.directory.lookup import store_profile
from bot.kernel.events import Profile
from storage.kernel.db import session
from storage.kernel.migrate import upgrade
from tests.command_contract import ACTOR_EMAIL, CommandContract, PlaygroundSurface, SlackSurface, TeamsSurface, cases_for, check_command, temporary_command
from tests.conftest import POSTGRES_ENV, make_settings, start_server, throwaway_schema
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackAPI

PULSE_KEY = "contract-test-pulse-key-0123456789abcdef"
PEOPLE = [
    ("ana", "U0ANA", "29:ana", "Ana Lima", ACTOR_EMAIL),
    ("bob", "U0BOB", "29:bob", "Bob Stone", "bob@example.com"),
    ("dan", "U0DAN", "29:dan", "Dan Wu", "dan@example.com"),
]
SURFACES = {cls.name: cls for cls in (SlackSurface, TeamsSurface, PlaygroundSurface)}


class Servers:
    """One app per database (Slack, Teams and the playground on it), started when first asked for."""

    def __init__(self, tmp_path_factory):
        self.tmp = tmp_path_factory
        self.running: dict[str, tuple] = {}
        self.schemas = []

    async def get(self, db: str):
        if db not in self.running:
            self.running[db] = await self._start(self._url(db))
        return self.running[db][1]

    def _url(self, db: str) -> str:
        if db == "sqlite":
            url = f"sqlite:///{self.tmp.mktemp('contract') / 'contract.db'}"
            upgrade(url)
            return url
        base = os.environ.get(POSTGRES_ENV)
        if not base:
            pytest.skip(f"set {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run the PostgreSQL variant")
        schema = throwaway_schema(base)
        self.schemas.append(schema)
        return schema.__enter__()

    async def _start(self, url: str):
        slack, connector = FakeSlackAPI(), FakeBotConnector()
        await slack.start()
        await connector.start()
        for _handle, slack_id, teams_id, name, email in PEOPLE:
            slack.add_user(slack_id, name, email)
            connector.add_member(teams_id, name, email)
        runner, srv = await start_server(make_settings(url, slack.url, PULSEBRIDGE_SECRET_KEY=PULSE_KEY), slack, connector, playground=True)
        with session(srv.engine) as s, s.begin():
            for handle, _slack_id, _teams_id, name, email in PEOPLE:
                store_profile(s, Profile("playground", handle, name, email, "Europe/Berlin"))
        srv.http = aiohttp.ClientSession()
        return runner, srv, slack, connector

    async def close(self):
        for runner, srv, slack, connector in self.running.values():
            await srv.http.close()
            await runner.cleanup()
            srv.engine.dispose()
            await slack.stop()
            await connector.stop()
        for schema in self.schemas:
            schema.__exit__(None, None, None)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def contract_servers(tmp_path_factory):
    servers = Servers(tmp_path_factory)
    yield servers
    await servers.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def surface(request, contract_servers):
    """"sqlite-slack" → the Slack surface of the SQLite app; each remembers the forms its commands opened."""
    db, name = request.param.split("-", 1)
    return await SURFACES[name](await contract_servers.get(db)).warm_up()


class TestEveryCommand(CommandContract):
    """Every command the composition root registers; nothing to add here for a new one."""


# -- the contract's own tests: a command registered later is covered, and a broken one fails ---------

PROBE_USAGE = "Usage: /probe · /probe ping"


def _say(text: str):
    from bot.kernel.messages import Context, Message

    return Message(summary=text, blocks=(Context((text,)),))


async def well_behaved(core, cmd):
    from bot.kernel.core import Outcome
    from bot.kernel.errors import UserFacingError
    from bot.kernel.text import excerpt

    if not cmd.raw_text:
        return Outcome(reply=_say(PROBE_USAGE))
    if cmd.raw_text == "ping":
        return Outcome(reply=_say("pong"))
    raise UserFacingError(f"I don't know “/probe {excerpt(cmd.raw_text)}”. {PROBE_USAGE}")


async def crashes(core, cmd):
    raise KeyError("boom")


async def answers_twice(core, cmd):
    from bot.kernel.core import Outcome
    from bot.kernel.ports import DirectMessage, Outbound

    extra = Outbound(key=f"probe:{cmd.delivery_key}", destination=DirectMessage(cmd.actor), message=_say("and once more"))
    return Outcome(reply=_say(f"Done. {PROBE_USAGE}"), followups=[extra])


async def shrugs(core, cmd):
    from bot.kernel.core import Outcome

    return Outcome(reply=_say("OK!"))


async def stores_garbage(core, cmd):
    from bot.kernel.core import Outcome
    from storage.directory.tables import Team

    with session(core.engine) as s, s.begin():
        s.add(Team(slug=f"probe-{len(cmd.delivery_key)}-{abs(hash(cmd.delivery_key)) % 10**9}", name="probe"))
    return Outcome(reply=_say(f"Stored. {PROBE_USAGE}"))


BROKEN = {
    crashes: "logged|HTTP 404|HTTP 500|crash",
    answers_twice: "expected one answer",
    shrugs: "neither usage nor a clear error",
    stores_garbage: "stored something",
}


@pytest.mark.asyncio(loop_scope="module")
async def test_a_command_registered_on_the_core_is_reached_and_passes_on_every_surface(contract_servers, caplog):
    server = await contract_servers.get("sqlite")
    with temporary_command(server.core, "probe", PROBE_USAGE, well_behaved) as spec:
        for cls in SURFACES.values():
            surface = cls(server)
            await surface.command("probe", "ping")  # first contact: the bot meets the actor
            for case in cases_for(spec):
                await check_command(surface, spec, case, server.engine, caplog)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("handler", list(BROKEN), ids=lambda h: h.__name__)
async def test_the_contract_fails_a_command_that_breaks_it(contract_servers, caplog, handler):
    server = await contract_servers.get("sqlite")
    garbage = next(c for c in cases_for(server.core.commands["kudos"]) if c.label == "words")
    with temporary_command(server.core, "probe", PROBE_USAGE, handler) as spec:
        for surface in SURFACES.values():
            with pytest.raises(AssertionError, match=BROKEN[handler]):
                await check_command(surface(server), spec, garbage, server.engine, caplog)
