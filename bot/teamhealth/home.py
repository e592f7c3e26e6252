"""The team-health section of a person's Home tab: their teams' goals, and for leads their team's health.

The summary is /teamhealth's own report behind its own access check (the team's leads and the
admins) and with its suppression rules: the tab shows a lead nothing the command would not, and
shows everyone else no team health at all.
"""

from __future__ import annotations

from bot.kernel.errors import UserFacingError
from bot.kernel.events import HomeOpened
from bot.kernel.messages import Block, Context, Paragraph, Strong
from bot.teamhealth import access, commands, goals
from storage.directory.queries import teams_of
from storage.kernel.db import session


async def section(core, event: HomeOpened) -> tuple[Block, ...]:
    try:
        user = await access.caller(core, event)
    except UserFacingError as exc:
        return (Context((exc.text,)),)
    now = core.clock()
    with session(core.engine) as s:
        mine = teams_of(s, user)
        if not mine:
            return (Paragraph((Strong("Your team's goals"),)), Context(("You are not in a team yet.",)))
        blocks, _shown = goals.listing(core, s, mine, goals.led_teams(core, s, user), now)
        for team in mine:
            if access.is_lead(s, user, team) and access.may_manage(core, s, user, team):
                health = commands.report(core, s, team, None, now)
                blocks.append(Paragraph((Strong(f"Team health of {team.name or team.slug} (leads only)"),)))
                blocks.extend(health.blocks)
    return tuple(blocks)
