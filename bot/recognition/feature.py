"""Recognition as a feature: /kudos, /win, the weekly digest, and the `recognition:` settings."""

from __future__ import annotations

from bot.kernel.feature import Feature
from bot.kernel.personal import home_section
from bot.recognition import digest, home, kudos, wins
from bot.recognition.config import PostMode, RecognitionConfig


def register(core) -> None:
    kudos.register(core)
    wins.register(core)
    digest.register(core)
    home_section(core, 20, home.section)


FEATURE = Feature(
    name="recognition",
    register=register,
    sections={"recognition": RecognitionConfig},
    # Per team: one channel post per kudos ("each"), the weekly digest ("digest"), or by team size ("auto").
    team_keys={"recognition_posts": (PostMode, "auto")},
)
