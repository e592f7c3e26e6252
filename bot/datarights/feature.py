"""Data rights as a feature: the daily retention purge and the `retention:` settings (export and erasure are CLI commands)."""

from __future__ import annotations

from bot.datarights import retention
from bot.datarights.config import RetentionConfig
from bot.kernel.feature import Feature

FEATURE = Feature(name="datarights", register=retention.register, sections={"retention": RetentionConfig})
