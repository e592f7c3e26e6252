"""The `answered` flags, flipped in shuffled batches so they cannot be paired with answers.

An answer is written on its own (bot/pulses/answers.py). Once a minute, on the scheduled tick, this
module works out with the secret key which deliveries' people have answers stored and, for each
pulse, decides:

* **release a batch** when at least N (the pulse's min_group_size) not-yet-flagged people have
  answered, when the pulse's reminder is about to go out (so reminders reach only people who have
  not answered), or once the pulse has closed (so participation is complete). One transaction
  flips the batch's flags in random order *and* deletes and re-inserts every answer row of the
  pulse in random order under fresh random ids;
* **only re-shuffle** the answer rows (same rewrite, no flags) when answers changed since the last
  rewrite but no batch is due, so a new or changed answer does not stay recognisable by its own
  PostgreSQL transaction id (xmin) or physical position for more than a tick.

After a release every answer of the pulse and every flag of that batch share one xmin, and answer
row order is random: the finest link an operator can draw from one dump is "one of this batch".
Earlier batches' flags keep their older xmins, but their answers have been rewritten since, so
those xmins match no answer at all.
"""

from __future__ import annotations

import hashlib
import logging
import random
from datetime import datetime, timedelta
from weakref import WeakKeyDictionary

from bot.pulses.anonymity import respondent_key
from storage.kernel.db import run_write, session
from storage.pulses.tables import Pulse, PulseAnswer
from storage.pulses.queries import flag_answered, flag_candidates, persons_of, pulses_to_settle, respondents_of, rewrite_answers

log = logging.getLogger(__name__)

# Closed pulses are looked at for this long after closing (a tick missed during downtime).
SETTLE_AFTER_CLOSE = timedelta(days=7)
_shuffle = random.SystemRandom().shuffle
# Per core: a digest of each pulse's answers as last rewritten, so unchanged pulses are not rewritten
# (after a restart each pulse with answers is rewritten once more, which is harmless).
_rewritten: WeakKeyDictionary = WeakKeyDictionary()


def _digest(s, pulse_id: int) -> str:
    from sqlalchemy import select

    rows = s.execute(
        select(PulseAnswer.question_id, PulseAnswer.respondent, PulseAnswer.value, PulseAnswer.text, PulseAnswer.comment).where(PulseAnswer.pulse_id == pulse_id)
    ).all()
    return hashlib.sha256(repr(sorted(tuple(r) for r in rows)).encode()).hexdigest()


def due(pulse: Pulse, pending: int, now: datetime) -> bool:
    """Whether the `pending` answered-but-unflagged people of this pulse are flagged now."""
    if pulse.status == "closed" or now >= pulse.closes_at:
        return True
    if pulse.remind_at is not None and not pulse.reminded and now >= pulse.remind_at:
        return True
    return pending >= pulse.min_group_size


def settle_pulse(core, pulse_id: int, now: datetime) -> tuple[int, int]:
    """(flags flipped, answer rows rewritten) for one pulse; one write unit, retried past lock and
    serialisation conflicts with answers and the fan-out (storage/kernel/db.py)."""
    secret = core.settings.PULSEBRIDGE_SECRET_KEY
    seen = _rewritten.setdefault(core, {})

    def work(s) -> tuple[int, int, str | None]:
        pulse = s.get(Pulse, pulse_id)
        candidates = flag_candidates(s, pulse_id)
        stored = respondents_of(s, pulse_id)
        pending: list[int] = []
        if candidates and stored:
            persons = persons_of(s, [u for _, u in candidates])
            pending = [d for d, u in candidates if respondent_key(secret, persons.get(u, u), pulse_id) in stored]
        digest = _digest(s, pulse_id) if stored else ""
        release = bool(pending) and due(pulse, len(pending), now)
        changed = bool(stored) and seen.get(pulse_id) != digest
        if not release and not changed:
            return 0, 0, None
        if release:
            _shuffle(pending)
            flag_answered(s, pending)
        return (len(pending) if release else 0), rewrite_answers(s, pulse_id, _shuffle), digest

    flipped, rewritten, digest = run_write(core.engine, work)
    if digest is not None:
        seen[pulse_id] = digest
    return flipped, rewritten


def settle(core, now: datetime) -> None:
    with session(core.engine) as s:
        ids = [p.id for p in pulses_to_settle(s, now - SETTLE_AFTER_CLOSE)]
    for pulse_id in ids:
        flipped, _ = settle_pulse(core, pulse_id, now)
        if flipped:
            log.info("pulse %s: %d answered flag(s) released in one shuffled batch", pulse_id, flipped)
