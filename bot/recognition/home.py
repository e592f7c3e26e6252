"""The recognition section of a person's Home tab: their kudos received and given (what /kudos stats shows them)."""

from __future__ import annotations

from bot.kernel.events import HomeOpened
from bot.kernel.messages import Block, Context
from bot.recognition.kudos import _stats_message


async def section(core, event: HomeOpened) -> tuple[Block, ...]:
    stats = _stats_message(core, event.platform, event.actor)
    command = "/kudos" if event.platform == "slack" else "kudos"
    return (*stats.blocks, Context((f"{command} @someone for what they did — say thanks.",)))
