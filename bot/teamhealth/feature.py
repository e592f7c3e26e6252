"""Team health as a feature: /teamhealth, shared EX/CX goals, the weekly team post, and the `teamhealth:` settings."""

from __future__ import annotations

from bot.kernel.feature import Feature
from bot.kernel.personal import home_section
from bot.teamhealth import commands, goals, home, posts
from bot.teamhealth.config import TeamHealthConfig


def register(core) -> None:
    commands.register(core)
    goals.register(core)
    posts.register(core)
    home_section(core, 30, home.section)


FEATURE = Feature(name="teamhealth", register=register, sections={"teamhealth": TeamHealthConfig})
