"""Every registered command, button and form against the contract in tests/command_contract.py, on
Slack, Teams and the playground, served by one app per database for the whole module."""

from __future__ import annotations

import pytest

from storage.kernel.db import write_unit
from tests.command_contract import SURFACES, CommandContract, cases_for, check_command, contract_servers, surface, temporary_command  # noqa: F401 - fixtures



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

    with write_unit(core.engine) as s:
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
