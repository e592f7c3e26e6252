"""The pieces that keep pulse answers anonymous: the respondent key, the group-size gate, sentiment.

The respondent key is HMAC-SHA256(PULSEBRIDGE_SECRET_KEY, "<user id>|<pulse id>"): stable inside a
pulse (so a double click or a changed answer lands on the same row) but unlinkable across pulses
and not recomputable from a database dump. There is deliberately no fallback key: a random
per-process key would break dedupe across restarts and a key stored in the database would let
anyone with the dump link answers to people. Without the setting, pulses refuse to run.
"""

from __future__ import annotations

import hashlib
import hmac

from textblob import TextBlob

from bot.errors import UserFacingError

SECRET_MISSING = (
    "Pulses are switched off: an admin must set PULSEBRIDGE_SECRET_KEY (32+ random characters) "
    "so answers can be stored anonymously."
)


def secret_of(core) -> str:
    secret = core.settings.PULSEBRIDGE_SECRET_KEY
    if not secret:
        raise UserFacingError(SECRET_MISSING)
    return secret


def respondent_key(secret: str, user_id: int, pulse_id: int) -> str:
    return hmac.new(secret.encode(), f"{user_id}|{pulse_id}".encode(), hashlib.sha256).hexdigest()


def polarity(text: str) -> float:
    """TextBlob's pattern polarity (-1..1); `.sentiment` needs no corpora download."""
    return round(float(TextBlob(text).sentiment.polarity), 3)


def visible(respondents: int, min_group_size: int) -> bool:
    return respondents >= min_group_size
