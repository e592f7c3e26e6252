"""Every feature the core offers, registered in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core import PulseBridge


def register_all(core: PulseBridge) -> None:
    from bot import kudos, pulses

    kudos.register(core)
    pulses.register(core)
