"""Purging raw text older than the retention period; the numbers aggregates are built from stay.

Every purge is a conditional UPDATE that only touches rows still holding text, so running it twice
(a re-elected scheduler, an on-demand run after the nightly one) changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, cast, or_, update
from sqlmodel import Session

from storage.feedback.tables import CustomerKudos, Feedback
from storage.pulses.tables import PulseAnswer


@dataclass
class PurgeReport:
    feedback: int = 0
    customer_kudos: int = 0
    pulse_comments: int = 0

    def line(self) -> str:
        return (
            f"feedback texts and payloads purged: {self.feedback}; customer kudos quotes purged: {self.customer_kudos}; "
            f"pulse comments and free-text answers purged: {self.pulse_comments}"
        )


def purge_before(session: Session, cutoff: datetime) -> PurgeReport:
    """Blank raw feedback (text, payload, routing note), relayed quotes and pulse comments from before `cutoff`.

    Pulse answers keep their value and polarity (the numbers results and exports use); only the
    words go. Answers carry a date, not a time, so the cutoff is compared by day.
    """
    report = PurgeReport()
    report.feedback = session.execute(
        update(Feedback)
        .where(
            Feedback.created_at < cutoff,
            or_(Feedback.text != "", cast(Feedback.raw, Text) != "{}", Feedback.route_detail.is_not(None)),
        )
        .values(text="", raw={}, route_detail=None)
    ).rowcount
    report.customer_kudos = session.execute(
        update(CustomerKudos).where(CustomerKudos.created_at < cutoff, CustomerKudos.quote != "").values(quote="")
    ).rowcount
    report.pulse_comments = session.execute(
        update(PulseAnswer)
        .where(PulseAnswer.answered_on < cutoff.date(), or_(PulseAnswer.comment.is_not(None), PulseAnswer.text.is_not(None)))
        .values(comment=None, text=None)
    ).rowcount
    return report
