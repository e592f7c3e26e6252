"""The core: routes translated commands to features and sends what they produce through the outbox."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.engine import Engine

from bot import kudos
from bot.errors import UserFacingError
from bot.events import CommandInvoked
from bot.messages import Context, Message, Paragraph, Strong
from bot.orgconfig import OrgConfig, member_identifier
from bot.outbox import Outbox
from bot.ports import ChatAdapter
from storage.db import session
from storage.directory import sync_teams

log = logging.getLogger(__name__)

Reply = Callable[[Message], Awaitable[None]]

COMMANDS = {
    "kudos": "/kudos @name for <what they did> [#value] — thank a colleague",
}


def error_message(text: str) -> Message:
    return Message(summary=text, blocks=(Paragraph(("⚠️ ", text)),))


def help_message(unknown: str | None = None) -> Message:
    lines = [Paragraph((Strong(f"{name}"), " — ", usage.split(" — ", 1)[1])) for name, usage in COMMANDS.items()]
    intro = f"I don't know the command “{unknown}”. " if unknown else ""
    return Message(
        summary=f"{intro}Commands: {', '.join(COMMANDS)}",
        blocks=(Paragraph((intro + "Here is what I can do:",)), *lines, Context(("Example: /kudos @alice for rescuing the Acme renewal",))),
    )


class PulseBridge:
    def __init__(self, engine: Engine, org: OrgConfig, adapters: Mapping[str, ChatAdapter] | None = None):
        self.engine = engine
        self.org = org
        self.adapters: dict[str, ChatAdapter] = dict(adapters or {})
        self.outbox = Outbox(engine, self.adapters)

    def register(self, adapter: ChatAdapter) -> None:
        self.adapters[adapter.platform] = adapter

    def sync_org(self) -> None:
        """Mirror PULSEBRIDGE_CONFIG's teams into the database so queries can join on membership."""
        with session(self.engine) as s, s.begin():
            sync_teams(
                s,
                (
                    (
                        slug,
                        {
                            "name": team.name or slug,
                            "slack_channel": team.slack_channel,
                            "teams_channel": team.teams_channel,
                            "timezone": team.timezone,
                        },
                        [member_identifier(m) for m in team.members],
                        [member_identifier(m) for m in team.leads],
                    )
                    for slug, team in self.org.teams.items()
                ),
            )

    async def handle_command(self, cmd: CommandInvoked, reply: Reply) -> None:
        """Answer the person who typed the command first, then send what the command produced."""
        adapter = self.adapters[cmd.platform]
        name = cmd.command.lstrip("/").lower()
        followups = []
        try:
            if name == "kudos":
                if cmd.raw_text.lower() in ("", "help"):
                    answer = Message(summary=kudos.USAGE, blocks=(Paragraph((kudos.USAGE,)),))
                else:
                    answer, followups = await kudos.give(self.engine, adapter, self.org, cmd)
            else:
                answer = help_message(None if name in ("help", "") else cmd.command)
        except UserFacingError as exc:
            answer = error_message(exc.text)
        await reply(answer)
        if followups:
            await self.outbox.deliver(followups)
