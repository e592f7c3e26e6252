"""What a feature declares to be part of pulsebridge: how it registers with the core, and its settings.

A feature is a folder in bot/ (and one in storage/ for its tables) with a `FEATURE` in its
`__init__.py`; bot/app.py lists them. The kernel never imports a feature: it receives these
declarations, registers each one's commands, buttons, forms and jobs, and composes the org file's
model from their sections (bot/kernel/orgconfig.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from bot.kernel.core import PulseBridge


@dataclass(frozen=True)
class Feature:
    name: str
    # Registers commands, actions, forms, jobs and start-up hooks on the core.
    register: Callable[[PulseBridge], None]
    # Top-level sections of PULSEBRIDGE_CONFIG this feature reads, by key (e.g. {"pulses": PulseConfig}).
    sections: Mapping[str, type[BaseModel]] = field(default_factory=dict)
    # Keys this feature adds to every team entry: key -> (type, default), e.g. {"pulse": (TeamPulseSchedule | None, None)}.
    team_keys: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
