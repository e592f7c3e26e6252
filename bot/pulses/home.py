"""The pulses section of a person's Home tab: how many pulses are open for them, and until when.

Only the person's own deliveries are read, never answers: whether they answered stays unknown to
the bot by construction (docs/privacy.md), so the tab cannot show it either.
"""

from __future__ import annotations

from datetime import UTC

from bot.kernel.events import HomeOpened
from bot.kernel.messages import Block, Context, Paragraph, Strong
from bot.pulses.render import local_time, zone
from storage.directory.queries import find_user
from storage.kernel.db import session
from storage.pulses.queries import accounts_of, open_deliveries_for


async def section(core, event: HomeOpened) -> tuple[Block, ...]:
    actor = event.actor
    command = "/pulse" if actor.platform == "slack" else "pulse"
    with session(core.engine) as s:
        user = find_user(s, actor.platform, actor.external_id)
        mine = open_deliveries_for(s, accounts_of(s, user), core.clock()) if user is not None else []
        closes = [(p.closes_at, user.timezone) for _d, p in mine]
    title = Paragraph((Strong("Your pulse questions"),))
    if not mine:
        return title, Context(("No open pulse questions right now.",))
    first = min(closes)
    at = first[0] if first[0].tzinfo else first[0].replace(tzinfo=UTC)  # SQLite returns naive UTC
    when = local_time(at, zone(first[1], "UTC"))
    n = len(mine)
    return (
        title,
        Paragraph((f"{n} open pulse{'s' if n > 1 else ''}; the next one closes {when}. Answers are anonymous.",)),
        Context((f"{command} sends the questions to our chat again.",)),
    )
