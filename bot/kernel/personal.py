"""The bot's personal surface: a person's 1:1 chat with it, the welcome, their Home tab, and what
they (and the admins) are told when a channel refuses the bot's post.

Features contribute Home tab sections (`home_section`) about the person who opened it, so the
kernel composes them without knowing any feature: open pulse questions, kudos received and given,
the team's goals, and for leads a team-health summary (the feature applies its own access and
anonymity rules, exactly as its command does).

Every message goes through the outbox with a key, so a redelivered event sends nothing twice and
the welcome reaches each person once, ever.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.kernel.events import DirectMessageReceived, HomeOpened
from bot.kernel.messages import Block, Context, Heading, Message, Paragraph, Strong, UserRef
from bot.kernel.ports import ChannelPost, DirectMessage, Outbound

if TYPE_CHECKING:
    from bot.kernel.core import PulseBridge

log = logging.getLogger(__name__)

HomeSection = Callable[["PulseBridge", HomeOpened], Awaitable[tuple[Block, ...]]]
# The three things the welcome names, when those commands exist; others fill in.
WELCOME_COMMANDS = ("kudos", "win", "pulse")


def home_section(core: PulseBridge, order: int, provider: HomeSection) -> None:
    """Add a section to every Home tab; lower `order` comes first."""
    core.home_sections.append((order, provider))
    core.home_sections.sort(key=lambda item: item[0])


def _command(platform: str, name: str) -> str:
    return f"/{name}" if platform == "slack" else name


def welcome_message(core: PulseBridge, platform: str) -> Message:
    names = [n for n in WELCOME_COMMANDS if n in core.commands]
    names += [n for n in core.commands if n not in names]
    lines = [Paragraph((Strong(_command(platform, n)), " — ", core.commands[n].summary)) for n in names[:3]]
    return Message(
        summary="Hi, I'm pulsebridge. Here are three things you can do.",
        blocks=(
            Paragraph(("👋 Hi, I'm pulsebridge. Three things you can do with me:",)),
            *lines,
            Context(("Write “help” here any time for all commands.",)),
        ),
    )


async def welcome_once(core: PulseBridge, actor: UserRef) -> bool:
    """DM the welcome if this person never got it; True when it was sent now."""
    key = f"welcome:{actor.platform}:{actor.external_id}"
    sent = await core.outbox.deliver([Outbound(key, DirectMessage(actor), welcome_message(core, actor.platform))])
    return key in sent


async def on_direct_message(core: PulseBridge, event: DirectMessageReceived) -> None:
    """Answer a DM with help (or, the first time, the welcome)."""
    if not core.inflight.accepting:
        return  # the platform retries an unacknowledged event; an acknowledged DM only asked for help
    async with core.inflight.track():
        if await welcome_once(core, event.actor):
            return
        await core.outbox.deliver([Outbound(f"dm-help:{event.delivery_key}", DirectMessage(event.actor), core.help_message())])


async def home_message(core: PulseBridge, event: HomeOpened) -> Message:
    blocks: list[Block] = [Heading("pulsebridge")]
    for _order, provider in core.home_sections:
        try:
            blocks.extend(await provider(core, event))
        except Exception:  # noqa: BLE001 - one broken section must not blank the whole tab
            log.exception("a Home tab section failed on %s", event.platform)
            blocks.append(Context(("(Part of this page could not be shown just now.)",)))
    if len(blocks) == 1:
        blocks.append(Paragraph(("Nothing here yet.",)))
    return Message(summary="Your pulsebridge home", blocks=tuple(blocks))


async def on_home_opened(core: PulseBridge, event: HomeOpened, publish: Callable[[UserRef, Message], Awaitable[None]] | None) -> None:
    """Publish the person's Home tab (when the platform has one) and welcome them on first contact."""
    if not core.inflight.accepting:
        return
    async with core.inflight.track():
        if event.tab == "home" and publish is not None:
            await publish(event.actor, await home_message(core, event))
        await welcome_once(core, event.actor)


def not_in_channel_notice(core: PulseBridge, dest: ChannelPost, *, for_admin: bool) -> Message:
    """What to do when a channel refused a post because the bot is not a member there."""
    teams = [t.name or slug for slug, t in core.org.teams.items() if dest.channel_id in (t.slack_channel, t.teams_channel)]
    where = f"the {teams[0]} channel ({dest.channel_id})" if teams else f"channel {dest.channel_id}"
    how = "invite me with /invite @pulsebridge in that channel" if dest.platform == "slack" else "add the pulsebridge app to that team"
    if for_admin:
        text = f"I can't post in {where}: I'm not a member. Please {how}; until then its celebrations are not posted."
    else:
        text = f"Saved, but I couldn't post in {where}: I'm not a member there. Please {how}."
    return Message(summary=text, blocks=(Paragraph(("⚠️ " + text,)),))
