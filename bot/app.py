"""The composition root: which features make up pulsebridge, and the org file they compose.

Adding a feature is writing its folder (bot/<feature>/ with a `FEATURE` in feature.py, and
storage/<feature>/ for its tables) and adding it to FEATURES. Nothing in bot/kernel/ imports a
feature; the adapters build the core through `build_core` so every surface gets the same features.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.datarights.feature import FEATURE as DATARIGHTS
from bot.directory.feature import FEATURE as DIRECTORY
from bot.feedback.feature import FEATURE as FEEDBACK
from bot.kernel import orgconfig
from bot.kernel.core import PulseBridge
from bot.kernel.feature import Feature
from bot.kernel.ports import ChatAdapter
from bot.kernel.settings import Settings
from bot.pulses.feature import FEATURE as PULSES
from bot.recognition.feature import FEATURE as RECOGNITION
from bot.teamhealth.feature import FEATURE as TEAMHEALTH

# Registration order is the order commands appear in the help message.
FEATURES: tuple[Feature, ...] = (RECOGNITION, FEEDBACK, DIRECTORY, PULSES, TEAMHEALTH, DATARIGHTS)

# The org file's model: the kernel's keys plus each feature's sections and per-team keys.
OrgConfig = orgconfig.compose(FEATURES)
TeamConfig = OrgConfig.model_fields["teams"].annotation.__args__[1]


def parse_org_config(text: str, source: str = "<config>") -> orgconfig.OrgConfig:
    return orgconfig.parse_org_config(text, source, OrgConfig)


def load_org_config(path: Path | None) -> orgconfig.OrgConfig:
    return orgconfig.load_org_config(path, OrgConfig)


def build_core(
    engine: Engine,
    org: orgconfig.OrgConfig,
    adapters: Mapping[str, ChatAdapter] | None = None,
    clock: Callable[[], datetime] | None = None,
    settings: Settings | None = None,
) -> PulseBridge:
    return PulseBridge(engine, org, adapters, clock=clock, settings=settings, features=FEATURES)
