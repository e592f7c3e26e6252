"""Team health's posts (the weekly team post, a goal reached) from bot/teamhealth/templates/, or the operator's overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.kernel.messages import Block
from bot.kernel.templates import render_blocks

TEMPLATES = Path(__file__).parent / "templates"


def render(core, template: str, context: dict[str, Any]) -> tuple[Block, ...]:
    return render_blocks(template, context, TEMPLATES, core.org.teamhealth.templates_dir)
