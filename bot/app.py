"""Every feature the core offers, registered in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.kernel.core import PulseBridge


def register_all(core: PulseBridge) -> None:
    from bot.recognition import digest
    from bot.directory import sync as directory_sync
    from bot.recognition import kudos
    from bot import pulses
    from bot.datarights import retention
    from bot.recognition import wins
    from bot.feedback import service as feedback
    from bot import teamhealth

    kudos.register(core)
    feedback.register(core)
    wins.register(core)
    digest.register(core)
    directory_sync.register(core)
    pulses.register(core)
    teamhealth.register(core)
    retention.register(core)
