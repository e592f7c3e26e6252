"""One parser per feedback source, each turning that source's payload into a FeedbackRecord.

Every problem raises MalformedFeedback naming the field, because the sender is a machine whose
admin has to fix a template: "ticket.satisfaction.current_rating: expected good or bad" beats "bad request".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.feedback.record import SCALES, Agent, FeedbackRecord, MalformedFeedback
from bot.kernel.text import clean

MAX_TEXT = 10_000
MAX_NAME = 256
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


# -- small typed readers -------------------------------------------------------------------------


def _obj(value: Any, field: str, *, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise MalformedFeedback(field, "expected an object")
    return value


def _str(value: Any, field: str, *, required: bool = False, limit: int = MAX_NAME) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value) if abs(value) < 10**30 else _too_large(field)
    elif isinstance(value, float):
        value = (str(int(value)) if value.is_integer() else str(value)) if math.isfinite(value) else _too_large(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise MalformedFeedback(field, "is required")
        return None
    if not isinstance(value, str):
        raise MalformedFeedback(field, "expected a string")
    value = clean(value)
    if len(value) > limit:
        raise MalformedFeedback(field, f"is longer than {limit:,} characters")
    return value


def _number(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MalformedFeedback(field, "expected a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise MalformedFeedback(field, "expected a number") from None
    if not isinstance(value, (int, float)) or value != value:
        raise MalformedFeedback(field, "expected a number")
    try:
        number = float(value)
    except OverflowError:  # an int with hundreds of digits
        _too_large(field)
    if not math.isfinite(number):
        _too_large(field)
    return number


def _too_large(field: str):
    raise MalformedFeedback(field, "is too large a number")


def _time(value: Any, field: str) -> datetime | None:
    """ISO 8601 strings or Unix seconds; naive times are taken as UTC."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"\d{9,11}", text):
                return datetime.fromtimestamp(int(text), UTC)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise MalformedFeedback(field, "expected an ISO 8601 time or Unix seconds")


def _scored(score: float | None, scale: str | None, field: str) -> tuple[float | None, str | None]:
    if score is None:
        return None, None
    if scale == "csat5" and not 1 <= score <= 5:
        raise MalformedFeedback(field, "a csat5 score must be between 1 and 5")
    if scale == "nps10" and not 0 <= score <= 10:
        raise MalformedFeedback(field, "an nps10 score must be between 0 and 10")
    if scale == "thumbs" and score not in (0, 1):
        raise MalformedFeedback(field, "a thumbs score must be 1 (up) or 0 (down)")
    return score, scale


def _text(value: Any, field: str) -> str:
    return _str(value, field, limit=MAX_TEXT) or ""


# -- generic JSON --------------------------------------------------------------------------------


def parse_generic(payload: dict[str, Any]) -> FeedbackRecord:
    """{"source", "id", "customer": {"name", "account"}, "score", "scale", "text", "agent": {...}, "created_at"}"""
    source = _str(payload.get("source"), "source", required=True, limit=64).lower()
    if not _SOURCE.match(source):
        raise MalformedFeedback("source", "use lowercase letters, digits, '.', '_' or '-'")
    external_id = _str(payload.get("id"), "id", required=True, limit=128)
    customer = _obj(payload.get("customer"), "customer")
    agent = _obj(payload.get("agent"), "agent")
    raw_score = payload.get("score")
    if payload.get("scale") == "thumbs" and isinstance(raw_score, (bool, str)):
        raw_score = {"up": 1, "down": 0, True: 1, False: 0}.get(raw_score.lower() if isinstance(raw_score, str) else raw_score, raw_score)
    score = _number(raw_score, "score")
    scale = _str(payload.get("scale"), "scale", limit=16)
    if score is not None and scale not in SCALES:
        raise MalformedFeedback("scale", f"expected one of {', '.join(SCALES)} when a score is given")
    text = _text(payload.get("text"), "text")
    if score is None and not text:
        raise MalformedFeedback("score", "give a score, a text, or both")
    score, scale = _scored(score, scale, "score")
    return FeedbackRecord(
        source=source,
        external_id=external_id,
        customer_name=_str(customer.get("name"), "customer.name"),
        customer_account=_str(customer.get("account"), "customer.account"),
        score=score,
        scale=scale,
        text=text,
        agent=Agent(
            email=(_str(agent.get("email"), "agent.email", limit=320) or "").lower() or None,
            name=_str(agent.get("name"), "agent.name"),
            id=_str(agent.get("id"), "agent.id", limit=128),
        ),
        created_at=_time(payload.get("created_at"), "created_at"),
    )


# -- Zendesk -------------------------------------------------------------------------------------


def _zendesk_rating(value: Any, field: str) -> float:
    """Trigger placeholders render "Good, I'm satisfied" / "Bad, I'm unsatisfied"; the API says good/bad."""
    text = (_str(value, field, required=True) or "").lower()
    if text.startswith("good"):
        return 1.0
    if text.startswith("bad"):
        return 0.0
    raise MalformedFeedback(field, f"expected a good or bad rating, got {text[:40]!r} (offered/unoffered ratings are not feedback)")


def parse_zendesk(payload: dict[str, Any]) -> FeedbackRecord:
    """A trigger's webhook body (see README for the template) or a satisfaction_rating from the API."""
    if "satisfaction_rating" in payload:
        rating = _obj(payload["satisfaction_rating"], "satisfaction_rating", required=True)
        ticket_id = _str(rating.get("ticket_id"), "satisfaction_rating.ticket_id", required=True, limit=64)
        assignee = _str(rating.get("assignee_id"), "satisfaction_rating.assignee_id", limit=64)
        return FeedbackRecord(
            source="zendesk",
            external_id=f"ticket:{ticket_id}",
            customer_name=None,
            customer_account=None,
            score=_zendesk_rating(rating.get("score"), "satisfaction_rating.score"),
            scale="thumbs",
            text=_text(rating.get("comment"), "satisfaction_rating.comment"),
            agent=Agent(id=assignee),
            created_at=_time(rating.get("created_at"), "satisfaction_rating.created_at"),
        )
    ticket = _obj(payload.get("ticket"), "ticket", required=True)
    ticket_id = _str(ticket.get("id"), "ticket.id", required=True, limit=64)
    satisfaction = _obj(ticket.get("satisfaction"), "ticket.satisfaction", required=True)
    assignee = _obj(ticket.get("assignee"), "ticket.assignee")
    requester = _obj(ticket.get("requester"), "ticket.requester")
    organization = _obj(ticket.get("organization"), "ticket.organization")
    return FeedbackRecord(
        source="zendesk",
        # One rating per ticket: a rating changed later is the same feedback, not a second one.
        external_id=f"ticket:{ticket_id}",
        customer_name=_str(requester.get("name"), "ticket.requester.name"),
        customer_account=_str(organization.get("name"), "ticket.organization.name"),
        score=_zendesk_rating(satisfaction.get("current_rating"), "ticket.satisfaction.current_rating"),
        scale="thumbs",
        text=_text(satisfaction.get("current_comment"), "ticket.satisfaction.current_comment"),
        agent=Agent(
            email=(_str(assignee.get("email"), "ticket.assignee.email", limit=320) or "").lower() or None,
            name=_str(assignee.get("name"), "ticket.assignee.name"),
            id=_str(assignee.get("id"), "ticket.assignee.id", limit=64),
        ),
        created_at=_time(ticket.get("updated_at"), "ticket.updated_at"),
    )


# -- Intercom ------------------------------------------------------------------------------------


def parse_intercom(payload: dict[str, Any]) -> FeedbackRecord:
    """A `conversation.rating.added` notification_event: data.item is the rated conversation."""
    topic = _str(payload.get("topic"), "topic", required=True, limit=128)
    if topic != "conversation.rating.added":
        raise MalformedFeedback("topic", f"only conversation.rating.added is feedback, got {topic!r}")
    item = _obj(_obj(payload.get("data"), "data", required=True).get("item"), "data.item", required=True)
    conversation_id = _str(item.get("id"), "data.item.id", required=True, limit=64)
    rating = _obj(item.get("conversation_rating"), "data.item.conversation_rating", required=True)
    score = _number(rating.get("rating"), "data.item.conversation_rating.rating")
    if score is None:
        raise MalformedFeedback("data.item.conversation_rating.rating", "is required")
    score, scale = _scored(score, "csat5", "data.item.conversation_rating.rating")
    teammate = _obj(rating.get("teammate"), "data.item.conversation_rating.teammate")
    author = _obj(_obj(item.get("source"), "data.item.source").get("author"), "data.item.source.author")
    customer = author.get("name") if author.get("type") in ("user", "lead", "contact") else None
    return FeedbackRecord(
        source="intercom",
        external_id=f"conversation:{conversation_id}",
        customer_name=_str(customer, "data.item.source.author.name"),
        customer_account=None,
        score=score,
        scale=scale,
        text=_text(rating.get("remark"), "data.item.conversation_rating.remark"),
        # The rated teammate; without one, the admin the conversation is assigned to.
        agent=Agent(
            id=_str(teammate.get("id"), "data.item.conversation_rating.teammate.id", limit=64)
            or _str(item.get("admin_assignee_id"), "data.item.admin_assignee_id", limit=64)
        ),
        created_at=_time(rating.get("created_at"), "data.item.conversation_rating.created_at"),
    )


# -- Delighted-style NPS -------------------------------------------------------------------------

_DELIGHTED_SCALES = {"nps": "nps10", "enps": "nps10", "csat": "csat5", "thumbs": "thumbs"}


def _property(props: dict[str, Any], *names: str) -> Any:
    lowered = {str(k).lower().replace(" ", "_"): v for k, v in props.items()}
    return next((lowered[n] for n in names if lowered.get(n) not in (None, "")), None)


def parse_delighted(payload: dict[str, Any]) -> FeedbackRecord:
    """`survey_response.created|updated`: event_data holds the response, its person and properties."""
    event = _str(payload.get("event_type"), "event_type", required=True, limit=64)
    if not event.startswith("survey_response."):
        raise MalformedFeedback("event_type", f"only survey_response events are feedback, got {event!r}")
    data = _obj(payload.get("event_data"), "event_data", required=True)
    response_id = _str(data.get("id"), "event_data.id", required=True, limit=64)
    survey_type = (_str(data.get("survey_type"), "event_data.survey_type", limit=16) or "nps").lower()
    if survey_type not in _DELIGHTED_SCALES:
        raise MalformedFeedback("event_data.survey_type", f"unsupported survey type {survey_type!r} (nps, enps, csat, thumbs)")
    score = _number(data.get("score"), "event_data.score")
    if score is None:
        raise MalformedFeedback("event_data.score", "is required")
    score, scale = _scored(score, _DELIGHTED_SCALES[survey_type], "event_data.score")
    person = _obj(data.get("person"), "event_data.person")
    props = _obj(data.get("person_properties"), "event_data.person_properties")
    return FeedbackRecord(
        source="delighted",
        external_id=f"response:{response_id}",
        customer_name=_str(person.get("name"), "event_data.person.name"),
        customer_account=_str(_property(props, "company", "account", "company_name"), "event_data.person_properties.Company"),
        score=score,
        scale=scale,
        text=_text(data.get("comment"), "event_data.comment"),
        agent=Agent(
            email=(_str(_property(props, "agent_email", "csm_email", "account_manager_email"), "event_data.person_properties.Agent Email", limit=320) or "").lower() or None,
            name=_str(_property(props, "agent", "agent_name"), "event_data.person_properties.Agent"),
        ),
        created_at=_time(data.get("created_at"), "event_data.created_at"),
    )


PARSERS: dict[str, Callable[[dict[str, Any]], FeedbackRecord]] = {
    "generic": parse_generic,
    "zendesk": parse_zendesk,
    "intercom": parse_intercom,
    "delighted": parse_delighted,
}


def detect(payload: dict[str, Any]) -> str:
    """Which parser a payload needs, from the keys each source always sends."""
    if "event_type" in payload and "event_data" in payload:
        return "delighted"
    if payload.get("type") == "notification_event" or ("topic" in payload and "data" in payload):
        return "intercom"
    if "ticket" in payload or "satisfaction_rating" in payload:
        return "zendesk"
    return "generic"


def parse(payload: Any, fmt: str = "auto") -> FeedbackRecord:
    if not isinstance(payload, dict):
        raise MalformedFeedback("body", "expected a JSON object")
    if fmt == "auto":
        fmt = detect(payload)
    parser = PARSERS.get(fmt)
    if parser is None:
        raise MalformedFeedback("format", f"unknown format {fmt!r} (auto, {', '.join(PARSERS)})")
    return parser(payload)
