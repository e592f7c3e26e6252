"""Store feedback once, decide whether it is praise and whose, and say what to send about it.

Messages are always rebuilt from the stored rows, so a redelivered webhook produces the same
outbox keys and only what did not go out the first time is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.directory.lookup import user_ref
from bot.feedback.classify import Sentiment, classify
from bot.feedback.config import FeedbackConfig
from bot.feedback.record import FeedbackRecord
from bot.feedback.routing import TRIAGE, Decision, Directory, Employee, route
from bot.kernel.messages import Actions, Context, Mention, Message, Paragraph, Quote, UserPicker
from bot.kernel.ports import ChannelPost, DirectMessage, Outbound
from storage.directory.queries import team_channel, teams_of
from storage.feedback.queries import add_customer_kudos, customer_kudos_of, directory_users, feedback_by_key, insert_feedback
from storage.feedback.tables import CustomerKudos, Feedback
from storage.directory.tables import User

PLATFORM_ORDER = ("slack", "teams")
ROUTE_ACTION = "feedback.route"
SOURCE_LABELS = {"zendesk": "Zendesk", "intercom": "Intercom", "delighted": "Delighted"}


@dataclass(frozen=True)
class Ingested:
    feedback: Feedback
    duplicate: bool
    decision: Decision | None
    outbound: list[Outbound]


# -- directory -----------------------------------------------------------------------------------


def employee_key(user: User) -> str:
    return user.email.lower() if user.email else f"{user.platform}:{user.external_id}"


def build_directory(s: Session, config: FeedbackConfig) -> tuple[Directory, dict[str, list[User]]]:
    """The people praise can reach, one Employee per person even when they use Slack and Teams."""
    grouped: dict[str, list[User]] = {}
    for user in directory_users(s):
        grouped.setdefault(employee_key(user), []).append(user)
    employees = []
    for key, users in grouped.items():
        users.sort(key=lambda u: PLATFORM_ORDER.index(u.platform) if u.platform in PLATFORM_ORDER else 99)
        idents = {f"{u.platform}:{u.external_id}" for u in users} | {u.email.lower() for u in users if u.email}
        aliases = tuple(a for ident in idents for a in config.aliases.get(ident, ()))
        name = next((u.display_name for u in users if u.display_name), key)
        employees.append(Employee(key=key, name=name, identifiers=frozenset(idents), aliases=aliases))
    return Directory(employees), grouped


def _recipient(users: list[User], platforms: tuple[str, ...]) -> User | None:
    """Where a person hears about it: the first of their accounts on a platform we can write to."""
    return next((u for u in users if u.platform in platforms), None)


# -- ingest --------------------------------------------------------------------------------------


Snapshot = tuple[Directory, dict[str, list[User]]]


def assess(
    s: Session, record: FeedbackRecord, config: FeedbackConfig, snapshot: Snapshot | None = None
) -> tuple[Sentiment, Decision | None, dict[str, list[User]]]:
    """Is it praise, and whose? Only praise is routed: other feedback is never relayed to anyone.

    `snapshot` (from build_directory) lets a bulk import read the directory once instead of per record.
    """
    sentiment = classify(record, config.thresholds)
    if not sentiment.is_kudos:
        return sentiment, None, {}
    directory, users = snapshot or build_directory(s, config)
    return sentiment, route(record, directory, config), users


def ingest(
    s: Session,
    record: FeedbackRecord,
    raw: dict[str, Any],
    config: FeedbackConfig,
    *,
    now: datetime,
    platforms: tuple[str, ...],
    live: bool,
    snapshot: Snapshot | None = None,
) -> Ingested:
    """Inside the caller's transaction.

    `live` (webhooks) means messages follow: praise is `relayed` or waits in `triage`. Imports are
    history: praise is `credited` (counted, nobody is messaged, not even on a later redelivery)
    or `unrouted`.
    """
    existing = feedback_by_key(s, record.source, record.external_id)
    if existing is not None:
        return Ingested(existing, True, None, outbound_for(s, existing, config))

    sentiment, decision, users = assess(s, record, config, snapshot)
    recipient: User | None = None
    status = "not_kudos"
    if decision is not None:
        if decision.employee is not None:
            recipient = _recipient(users[decision.employee.key], platforms)
        if recipient is None and decision.employee is not None:
            decision = Decision(None, TRIAGE, 0.0, f"{decision.employee.name} is on no connected platform")
        can_triage = live and any(p in platforms for p in config.triage_channels)
        status = ("relayed" if live else "credited") if recipient else "triage" if can_triage else "unrouted"

    row = Feedback(
        source=record.source,
        external_id=record.external_id,
        customer_name=record.customer_name,
        customer_account=record.customer_account,
        score=record.score,
        scale=record.scale,
        text=record.text,
        sentiment=sentiment.label,
        polarity=sentiment.polarity,
        agent_email=record.agent.email,
        agent_name=record.agent.name,
        agent_id=record.agent.id,
        status=status,
        route_method=decision.method if decision else None,
        route_confidence=decision.confidence if decision else None,
        route_detail=decision.detail[:1000] if decision else None,
        routed_user_id=recipient.id if recipient else None,
        raw=raw,
        created_at=record.created_at or now,
        received_at=now,
    )
    row, created = insert_feedback(s, row)
    if not created:  # a concurrent delivery of the same feedback won the insert
        return Ingested(row, True, None, outbound_for(s, row, config))
    if recipient is not None:
        relay_to(s, row, recipient, config)
    return Ingested(row, False, decision, outbound_for(s, row, config))


def relay_to(s: Session, row: Feedback, recipient: User, config: FeedbackConfig) -> CustomerKudos:
    """Record the praise as a recognition from the customer, so it counts with peer kudos."""
    return add_customer_kudos(
        s,
        CustomerKudos(
            feedback_id=row.id,
            user_id=recipient.id,
            giver_label=customer_label(row, config),
            quote=row.text,
            score=row.score,
            scale=row.scale,
            route_method=row.route_method or TRIAGE,
            created_at=row.created_at,
        ),
    )


# -- messages ------------------------------------------------------------------------------------


def customer_label(row: Feedback, config: FeedbackConfig) -> str:
    if config.anonymise_customers or not row.customer_name:
        return "a customer"
    return f"{row.customer_name} ({row.customer_account})" if row.customer_account else row.customer_name


def score_text(row: Feedback) -> str:
    source = SOURCE_LABELS.get(row.source, row.source)
    if row.score is None:
        return f"via {source}"
    if row.scale == "thumbs":
        shown = "👍" if row.score >= 1 else "👎"
    elif row.scale == "nps10":
        shown = f"NPS {row.score:g}/10"
    else:
        shown = f"{row.score:g}/5"
    return f"Score: {shown} · via {source}"


def _quote(row: Feedback) -> tuple[Quote, ...]:
    return (Quote(row.text),) if row.text else ()


def outbound_for(s: Session, row: Feedback, config: FeedbackConfig) -> list[Outbound]:
    if row.status == "relayed":
        return relay_messages(s, row, config)
    if row.status == "triage":
        return triage_messages(s, row, config)
    return []


def relay_messages(s: Session, row: Feedback, config: FeedbackConfig) -> list[Outbound]:
    kudos = customer_kudos_of(s, row.id)
    if kudos is None:
        return []
    user = s.get(User, kudos.user_id)
    ref = user_ref(user)
    giver = kudos.giver_label
    out = [
        Outbound(
            key=f"feedback:{row.id}:dm:{user.id}",
            destination=DirectMessage(ref),
            message=Message(
                summary=f"Customer kudos from {giver}",
                blocks=(
                    Paragraph(("🌟 Customer kudos! ", giver[:1].upper() + giver[1:], " said this about your work:" if row.text else " rated your help highly.")),
                    *_quote(row),
                    Context((score_text(row),)),
                ),
            ),
        )
    ]
    post = Message(
        summary=f"Customer kudos for {user.display_name} from {giver}",
        blocks=(Paragraph(("🌟 Customer kudos for ", Mention(ref), " from ", giver, ":")), *_quote(row), Context((score_text(row),))),
    )
    channels: dict[str, str] = {}
    for team in teams_of(s, user):
        channel = team_channel(team, user.platform)
        if channel:
            channels.setdefault(channel, channel)
    out.extend(Outbound(f"feedback:{row.id}:channel:{c}", ChannelPost(user.platform, c), post) for c in channels)
    return out


def triage_message(s: Session, row: Feedback, config: FeedbackConfig, platform: str) -> Message:
    return Message(
        summary=f"Customer praise from {customer_label(row, config)} needs a person",
        blocks=(
            Paragraph(("💬 Praise from ", customer_label(row, config), " that I could not attribute to anyone. Who earned it?")),
            *_quote(row),
            Context((score_text(row), f" · {row.route_detail}" if row.route_detail else "")),
            # Teams searches members of the org's teams as you type: no list that grows with the company.
            Actions((UserPicker(f"{ROUTE_ACTION}:{row.id}", "Choose the employee", people="team_members"),)),
        ),
    )


def triage_messages(s: Session, row: Feedback, config: FeedbackConfig) -> list[Outbound]:
    return [
        Outbound(f"feedback:{row.id}:triage:{platform}", ChannelPost(platform, channel), triage_message(s, row, config, platform))
        for platform, channel in sorted(config.triage_channels.items())
    ]


def routed_message(row: Feedback, recipient: User, router: User, config: FeedbackConfig) -> Message:
    """What the triage post turns into once somebody picked the person."""
    return Message(
        summary=f"Customer praise routed to {recipient.display_name}",
        blocks=(
            Paragraph(("✅ Praise from ", customer_label(row, config), " sent to ", Mention(user_ref(recipient)), " by ", Mention(user_ref(router)), ".")),
            *_quote(row),
            Context((score_text(row),)),
        ),
    )
