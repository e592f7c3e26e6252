"""The directory as a feature: the daily sync of people and user groups, and the `directory:` settings."""

from __future__ import annotations

from bot.directory import sync
from bot.directory.config import DirectoryConfig
from bot.kernel.feature import Feature

FEATURE = Feature(name="directory", register=sync.register, sections={"directory": DirectoryConfig})
