"""Is this feedback praise? The customer's own score decides; the words only when there is no score."""

from __future__ import annotations

from dataclasses import dataclass

from bot.feedback.config import FeedbackThresholds
from bot.feedback.record import FeedbackRecord


@dataclass(frozen=True)
class Sentiment:
    label: str  # positive | neutral | negative
    polarity: float | None  # TextBlob polarity when the text decided, else None
    decided_by: str  # score | text

    @property
    def is_kudos(self) -> bool:
        return self.label == "positive"


def _by_score(score: float, scale: str, t: FeedbackThresholds) -> str:
    if scale == "csat5":
        return "positive" if score >= t.csat_positive else "negative" if score <= 2 else "neutral"
    if scale == "nps10":
        # NPS: promoters are positive, detractors (0-6) negative, passives neutral.
        return "positive" if score >= t.nps_positive else "negative" if score <= 6 else "neutral"
    return "positive" if score >= 1 else "negative"


def classify(record: FeedbackRecord, thresholds: FeedbackThresholds) -> Sentiment:
    if record.score is not None and record.scale:
        return Sentiment(_by_score(record.score, record.scale, thresholds), None, "score")
    # Only `.sentiment`: TextBlob's pattern analyser ships its lexicon, so this needs no download.
    # Imported only when text decides: it pulls in NLTK (start-up time and memory).
    from textblob import TextBlob

    polarity = float(TextBlob(record.text).sentiment.polarity)
    if polarity >= thresholds.polarity_positive:
        label = "positive"
    elif polarity <= thresholds.polarity_negative:
        label = "negative"
    else:
        label = "neutral"
    return Sentiment(label, round(polarity, 4), "text")
