"""The pieces that keep pulse answers anonymous: the respondent key, the release rule, the group-size gate.

Respondent key. HMAC-SHA256(PULSEBRIDGE_SECRET_KEY, "<person id>|<pulse id>"), where the person id
is the lowest user id among the accounts sharing an email (storage.pulses.person_of): one person on
Slack and Teams is one respondent. Stable inside a pulse (a double click or a changed answer lands
on the same row), unlinkable across pulses, not recomputable from a database dump. There is
deliberately no fallback key: a random per-process key would break dedupe across restarts and a
key stored in the database would let anyone with the dump link answers to people. Without the
setting, pulses refuse to run.

Release rule (docs/privacy.md, "When results are shown"). Answers of a pulse, scheduled or ad hoc,
are shown to anyone only once the pulse has closed, when they can no longer change: a lead who
reads results before and after one more person is reached (the next timezone, a late joiner) or
changes an answer learns nothing, because nothing is shown before the close and nothing changes
after it. While a pulse is open the lead sees participation only, in coarse steps (below N, then
quarters of the people reached), never an answer-level figure.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from textblob import TextBlob

from bot.kernel.errors import UserFacingError
from storage.pulses.queries import person_of

SECRET_MISSING = (
    "Pulses are switched off: an admin must set PULSEBRIDGE_SECRET_KEY (32+ random characters) "
    "so answers can be stored anonymously."
)


def secret_of(core) -> str:
    secret = core.settings.PULSEBRIDGE_SECRET_KEY
    if not secret:
        raise UserFacingError(SECRET_MISSING)
    return secret


def respondent_key(secret: str, person_id: int, pulse_id: int) -> str:
    return hmac.new(secret.encode(), f"{person_id}|{pulse_id}".encode(), hashlib.sha256).hexdigest()


def key_of(secret: str, s, user, pulse_id: int) -> str:
    """This account's respondent key: the same for every account of the same person."""
    return respondent_key(secret, person_of(s, user), pulse_id)


def polarity(text: str) -> float:
    """TextBlob's pattern polarity (-1..1); `.sentiment` needs no corpora download."""
    return round(float(TextBlob(text).sentiment.polarity), 3)


def visible(respondents: int, min_group_size: int) -> bool:
    return respondents >= min_group_size


def released(pulse, now: datetime) -> bool:
    """Results may be shown: the pulse has closed (by status, or its closing time has passed:
    answers are refused from that instant even before the next tick marks it closed)."""
    return pulse.status == "closed" or now >= pulse.closes_at


def participation_while_open(answered: int, reached: int, min_group_size: int) -> str:
    """What a lead may know while a pulse is open: below N, or the quarter of people reached.

    A step is a quarter of the people reached (two or more people once 8+ are reached; the first
    step is N itself), so one more answer seldom moves it, and nothing about *what* anyone
    answered is in it.
    """
    if answered < min_group_size or reached <= 0:
        return f"fewer than {min_group_size} people have answered so far"
    share = min(answered, reached) / reached
    step = int(share * 4) * 25
    if step >= 100:
        return f"{min_group_size} or more people have answered — everyone reached so far"
    if step == 0:
        return f"{min_group_size} or more people have answered — under a quarter of those reached so far"
    return f"{min_group_size} or more people have answered — at least {step}% of those reached so far"
