"""Queries for micro-pulses (see storage/pulse_tables.py for what each table may and may not hold)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.directory import identifiers_of, upsert_user
from storage.pulse_tables import Pulse, PulseAnswer, PulseDelivery, PulseQuestion
from storage.tables import Team, TeamMember, User, utcnow


def team_by_slug(s: Session, slug: str) -> Team | None:
    return s.execute(select(Team).where(Team.slug == slug)).scalar_one_or_none()


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def team_recipients(s: Session, team_id: int) -> list[User]:
    """Active people of a team we can DM: known users matching a member identifier.

    Members listed by platform id (`slack:U…`) get a directory row on the spot so they can be
    reached before they ever talk to the bot; members listed by email are reached once the
    directory knows them (first contact or a profile event). Queries go in chunks so a team of
    thousands stays within SQLite's expression limits.
    """
    idents = list(s.execute(select(TeamMember.identifier).where(TeamMember.team_id == team_id)).scalars())
    emails = [i for i in idents if not i.startswith(("slack:", "teams:"))]
    by_platform: dict[str, list[str]] = {}
    for ident in idents:
        platform, _, external = ident.partition(":")
        if platform in ("slack", "teams") and external:
            by_platform.setdefault(platform, []).append(external)
    found: dict[int, User] = {}
    for platform, externals in by_platform.items():
        known: set[str] = set()
        for chunk in _chunks(externals):
            rows = s.execute(select(User).where(User.platform == platform, User.external_id.in_(chunk))).scalars()
            for user in rows:
                known.add(user.external_id)
                found[user.id] = user
        for external in externals:
            if external not in known:
                user = upsert_user(s, platform=platform, external_id=external, display_name="")
                found[user.id] = user
    for chunk in _chunks(emails):
        for user in s.execute(select(User).where(User.email.in_(chunk))).scalars():
            found[user.id] = user
    # Someone on both Slack and Teams is one person: ask them once, where they were seen last.
    by_person: dict[str, User] = {}
    for user in found.values():
        if not user.active or user.is_bot:
            continue
        key = user.email.lower() if user.email else f"{user.platform}:{user.external_id}"
        if key not in by_person or by_person[key].updated_at < user.updated_at:
            by_person[key] = user
    return sorted(by_person.values(), key=lambda u: u.id)


def is_lead_of(s: Session, user: User) -> list[Team]:
    return list(
        s.execute(
            select(Team)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(TeamMember.identifier.in_(identifiers_of(user)), TeamMember.is_lead.is_(True))
            .order_by(Team.slug)
            .distinct()
        ).scalars()
    )


def pulse_by_source(s: Session, key: str) -> Pulse | None:
    return s.execute(select(Pulse).where(Pulse.source_key == key)).scalar_one_or_none()


def create_pulse(s: Session, pulse: Pulse, questions: Iterable[PulseQuestion], deliveries: Iterable[PulseDelivery]) -> Pulse | None:
    """Insert a pulse with its questions and delivery rows; None when its source key exists already."""
    try:
        with s.begin_nested():
            s.add(pulse)
            s.flush()
    except IntegrityError:
        return None
    for q in questions:
        q.pulse_id = pulse.id
        s.add(q)
    for d in deliveries:
        d.pulse_id = pulse.id
        s.add(d)
    s.flush()
    return pulse


def questions_of(s: Session, pulse_id: int) -> dict[str, PulseQuestion]:
    rows = s.execute(select(PulseQuestion).where(PulseQuestion.pulse_id == pulse_id).order_by(PulseQuestion.id)).scalars()
    return {q.question_key: q for q in rows}


def question_history(s: Session, user_ids: list[int], since: datetime) -> dict[int, dict[str, datetime]]:
    """When each person was last asked each question key (scheduled and ad-hoc deliveries alike)."""
    out: dict[int, dict[str, datetime]] = {}
    for chunk_start in range(0, len(user_ids), 500):
        chunk = user_ids[chunk_start : chunk_start + 500]
        rows = s.execute(
            select(PulseDelivery.user_id, PulseDelivery.question_keys, PulseDelivery.due_at).where(
                PulseDelivery.user_id.in_(chunk), PulseDelivery.due_at >= since
            )
        )
        for user_id, keys, due in rows:
            seen = out.setdefault(user_id, {})
            for key in keys or []:
                if key not in seen or seen[key] < due:
                    seen[key] = due
    return out


def delivery_of(s: Session, pulse_id: int, user_id: int) -> PulseDelivery | None:
    return s.execute(
        select(PulseDelivery).where(PulseDelivery.pulse_id == pulse_id, PulseDelivery.user_id == user_id)
    ).scalar_one_or_none()


def due_delivery_ids(s: Session, now: datetime, max_attempts: int, pulse_id: int | None = None) -> list[int]:
    query = (
        select(PulseDelivery.id)
        .join(Pulse, Pulse.id == PulseDelivery.pulse_id)
        .where(
            PulseDelivery.status.in_(("pending", "failed")),
            PulseDelivery.due_at <= now,
            PulseDelivery.attempts < max_attempts,
            Pulse.status == "open",
            Pulse.closes_at > now,
        )
        .order_by(PulseDelivery.due_at, PulseDelivery.id)
    )
    if pulse_id is not None:
        query = query.where(PulseDelivery.pulse_id == pulse_id)
    return list(s.execute(query).scalars())


def stuck_deliveries(s: Session, token: str) -> list[PulseDelivery]:
    """Rows another (crashed) process claimed and never finished: sent or not, nobody knows yet."""
    return list(
        s.execute(
            select(PulseDelivery).where(
                PulseDelivery.status == "sending",
                or_(PulseDelivery.claim_token.is_(None), PulseDelivery.claim_token != token),
            )
        ).scalars()
    )


def claim_delivery(s: Session, delivery_id: int, token: str) -> bool:
    result = s.execute(
        update(PulseDelivery)
        .where(PulseDelivery.id == delivery_id, PulseDelivery.status.in_(("pending", "failed")))
        .values(status="sending", claim_token=token, attempts=PulseDelivery.attempts + 1)
    )
    return result.rowcount == 1


def finish_delivery(s: Session, delivery_id: int, *, platform_ref: str | None = None, error: str | None = None) -> None:
    values = (
        {"status": "failed", "last_error": error[:2000]}
        if error is not None
        else {"status": "sent", "platform_ref": platform_ref, "sent_at": utcnow(), "last_error": None}
    )
    s.execute(update(PulseDelivery).where(PulseDelivery.id == delivery_id).values(**values))


def release_delivery(s: Session, delivery_id: int) -> None:
    s.execute(update(PulseDelivery).where(PulseDelivery.id == delivery_id, PulseDelivery.status == "sending").values(status="pending"))


def close_expired(s: Session, now: datetime) -> list[int]:
    ids = list(s.execute(select(Pulse.id).where(Pulse.status == "open", Pulse.closes_at <= now)).scalars())
    if ids:
        s.execute(update(Pulse).where(Pulse.id.in_(ids)).values(status="closed"))
        s.execute(
            update(PulseDelivery).where(PulseDelivery.pulse_id.in_(ids), PulseDelivery.status.in_(("pending", "failed"))).values(status="expired")
        )
    return ids


def reminders_due(s: Session, now: datetime) -> list[Pulse]:
    return list(
        s.execute(
            select(Pulse).where(Pulse.status == "open", Pulse.reminded.is_(False), Pulse.remind_at.is_not(None), Pulse.remind_at <= now, Pulse.closes_at > now)
        ).scalars()
    )


def non_responders(s: Session, pulse_id: int) -> list[tuple[PulseDelivery, User]]:
    return list(
        s.execute(
            select(PulseDelivery, User)
            .join(User, User.id == PulseDelivery.user_id)
            .where(PulseDelivery.pulse_id == pulse_id, PulseDelivery.status == "sent", PulseDelivery.answered.is_(False))
            .order_by(PulseDelivery.id)
        ).all()
    )


def open_deliveries_for(s: Session, user_id: int, now: datetime) -> list[tuple[PulseDelivery, Pulse]]:
    return list(
        s.execute(
            select(PulseDelivery, Pulse)
            .join(Pulse, Pulse.id == PulseDelivery.pulse_id)
            .where(PulseDelivery.user_id == user_id, Pulse.status == "open", Pulse.closes_at > now, PulseDelivery.status != "expired")
            .order_by(Pulse.id)
        ).all()
    )


def open_team_pulses(s: Session, team_ids: list[int], now: datetime) -> list[Pulse]:
    if not team_ids:
        return []
    return list(
        s.execute(
            select(Pulse).where(Pulse.team_id.in_(team_ids), Pulse.status == "open", Pulse.closes_at > now, Pulse.kind == "scheduled")
        ).scalars()
    )


def answers_of(s: Session, pulse_id: int, respondent: str) -> dict[int, PulseAnswer]:
    rows = s.execute(select(PulseAnswer).where(PulseAnswer.pulse_id == pulse_id, PulseAnswer.respondent == respondent)).scalars()
    return {a.question_id: a for a in rows}


def upsert_answer(s: Session, *, pulse_id: int, question_id: int, respondent: str, on: date, **values) -> PulseAnswer:
    """One row per (question, respondent): a second click or a changed answer updates it."""
    query = select(PulseAnswer).where(PulseAnswer.question_id == question_id, PulseAnswer.respondent == respondent)
    row = s.execute(query).scalar_one_or_none()
    if row is None:
        try:
            with s.begin_nested():
                row = PulseAnswer(pulse_id=pulse_id, question_id=question_id, respondent=respondent, answered_on=on, **values)
                s.add(row)
            return row
        except IntegrityError:  # a concurrent click inserted it first
            row = s.execute(query).scalar_one()
    for key, value in values.items():
        setattr(row, key, value)
    row.answered_on = on
    s.flush()
    return row


def mark_answered(s: Session, delivery_id: int) -> None:
    s.execute(update(PulseDelivery).where(PulseDelivery.id == delivery_id).values(answered=True))


def answers_for_pulse(s: Session, pulse_id: int) -> list[PulseAnswer]:
    return list(s.execute(select(PulseAnswer).where(PulseAnswer.pulse_id == pulse_id)).scalars())


def recent_pulses(s: Session, *, team_ids: list[int], owner_id: int, limit: int = 3) -> list[Pulse]:
    """Pulses a lead may read: scheduled ones of their teams, and the ad-hoc ones they launched."""
    cond = Pulse.owner_user_id == owner_id
    if team_ids:
        cond = or_(cond, (Pulse.team_id.in_(team_ids)) & (Pulse.kind == "scheduled"))
    return list(s.execute(select(Pulse).where(cond).order_by(Pulse.opens_at.desc(), Pulse.id.desc()).limit(limit)).scalars())
