"""Customer feedback as a feature: intake (webhook, import), relay to the employee, triage, and `feedback:` settings."""

from __future__ import annotations

from bot.feedback import service
from bot.feedback.config import FeedbackConfig
from bot.kernel.feature import Feature

FEATURE = Feature(name="feedback", register=service.register, sections={"feedback": FeedbackConfig})
