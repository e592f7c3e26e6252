"""Queries for micro-pulses (see storage/pulses/tables.py for what each table may and may not hold)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import case, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.pulses.tables import Pulse, PulseAnswer, PulseDelivery, PulseQuestion
from storage.directory.queries import identifiers_of
from storage.directory.tables import Team, TeamMember, User
from storage.kernel.db import added_unless_taken, dialect_insert
from storage.kernel.tables import utcnow


def team_by_slug(s: Session, slug: str) -> Team | None:
    return s.execute(select(Team).where(Team.slug == slug)).scalar_one_or_none()


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]


# Members are listed by platform id (`slack:U…`, `teams:29:…`) or by email. Both are matched by
# joins, not by IN lists of the team's identifiers: on PostgreSQL, before statistics catch up
# with a freshly synced directory, each IN list of 500 became a sequential scan (0.6 s each,
# 23 s for a 20,000-person team).
_PLATFORMS = ("slack", "teams")


def _account_of_member(platform: str):
    """Join condition: the user row a `platform:external` member identifier names (an index
    lookup on users' unique (platform, external_id) for each member)."""
    return (User.platform == platform) & (User.external_id == func.substr(TeamMember.identifier, len(platform) + 2))


def _members_on(platform: str, team_id: int):
    prefix = f"{platform}:"
    return (TeamMember.team_id == team_id) & TeamMember.identifier.startswith(prefix) & (func.length(TeamMember.identifier) > len(prefix))


def missing_member_users(s: Session, team_id: int) -> dict[str, list[str]]:
    """Members listed by platform id who have no directory row yet, per platform."""
    missing: dict[str, list[str]] = {}
    for platform in _PLATFORMS:
        rows = s.execute(
            select(func.substr(TeamMember.identifier, len(platform) + 2))
            .select_from(TeamMember)
            .outerjoin(User, _account_of_member(platform))
            .where(_members_on(platform, team_id), User.id.is_(None))
        ).scalars()
        if left := list(dict.fromkeys(rows)):
            missing[platform] = left
    return missing


def add_users(s: Session, missing: dict[str, list[str]]) -> int:
    """Directory rows for people known only by platform id, so they can be reached before they ever
    talk to the bot; in bulk (a 20,000-person team's first pulse inserted them one ORM flush at a
    time: 54 s). A row someone else inserted meanwhile is left as it is."""
    now = utcnow()
    rows = [
        dict(platform=platform, external_id=external, display_name="", email=None, timezone=None, is_bot=False, active=True, created_at=now, updated_at=now)
        for platform, externals in missing.items()
        for external in externals
    ]
    stmt = dialect_insert(s, User.__table__).on_conflict_do_nothing(index_elements=["platform", "external_id"])
    for chunk in _chunks(rows, 1000):
        s.execute(stmt, chunk)
    return len(rows)


def add_member_users(s: Session, team_id: int) -> int:
    """`add_users` for a team's members; in a write unit."""
    missing = missing_member_users(s, team_id)
    return add_users(s, missing) if missing else 0


def team_recipients(s: Session, team_id: int) -> list[User]:
    """Active people of a team we can DM: known users matching a member identifier (read only).

    Members listed by platform id are found once they have a directory row (`add_member_users`
    gives them one); members listed by email once the directory knows them (first contact or a
    profile event).
    """
    found: dict[int, User] = {}
    for platform in _PLATFORMS:
        for user in s.execute(select(User).join(TeamMember, _account_of_member(platform)).where(_members_on(platform, team_id))).scalars():
            found[user.id] = user
    by_email = select(User).join(TeamMember, User.email == TeamMember.identifier).where(
        TeamMember.team_id == team_id, *(~TeamMember.identifier.startswith(f"{p}:") for p in _PLATFORMS)
    )
    for user in s.execute(by_email).scalars():
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




def person_of(s: Session, user: User) -> int:
    """The id that stands for this *person*: the lowest user id among accounts sharing their email.

    Someone on both Slack and Teams has two user rows but is one respondent and one recipient.
    Without an email an account is its own person. The lowest id is stable (a later account gets
    a higher id) and, unlike the email, is not recomputable from public knowledge once the user
    rows are deleted.
    """
    if not user.email:
        return user.id
    return min(user.id, s.execute(select(func.min(User.id)).where(func.lower(User.email) == user.email.lower())).scalar_one() or user.id)


def accounts_of(s: Session, user: User) -> list[int]:
    """Every user id of the same person (by email), this account first."""
    if not user.email:
        return [user.id]
    others = s.execute(select(User.id).where(func.lower(User.email) == user.email.lower(), User.id != user.id)).scalars()
    return [user.id, *sorted(others)]


def persons_of(s: Session, user_ids: list[int]) -> dict[int, int]:
    """user id → person id (see person_of) for many users at once."""
    out: dict[int, int] = {}
    emails: dict[int, str] = {}
    for chunk in _chunks(list(user_ids)):
        for uid, email in s.execute(select(User.id, User.email).where(User.id.in_(chunk))):
            out[uid] = uid
            if email:
                emails[uid] = email.lower()
    if emails:
        lowest: dict[str, int] = {}
        for chunk in _chunks(sorted(set(emails.values()))):
            for email, uid in s.execute(select(func.lower(User.email), func.min(User.id)).where(func.lower(User.email).in_(chunk)).group_by(func.lower(User.email))):
                lowest[email] = uid
        for uid, email in emails.items():
            out[uid] = min(uid, lowest.get(email, uid))
    return out


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



# What a delivery row holds unless its planner says otherwise (bulk inserts give every row every column).
_DELIVERY_DEFAULTS = dict(status="pending", claim_token=None, attempts=0, platform_ref=None, last_error=None, sent_at=None, answered=False)


def insert_pulse(s: Session, pulse: Pulse, questions: Iterable[PulseQuestion]) -> Pulse | None:
    """Insert a pulse and its questions; None when its source key exists already."""
    if not added_unless_taken(s, pulse):
        return None
    add_questions(s, pulse.id, questions)
    return pulse


def add_questions(s: Session, pulse_id: int, questions: Iterable[PulseQuestion]) -> None:
    """Add the questions a pulse does not have yet (by key)."""
    have = set(s.execute(select(PulseQuestion.question_key).where(PulseQuestion.pulse_id == pulse_id)).scalars())
    for q in questions:
        if q.question_key not in have:
            q.pulse_id = pulse_id
            s.add(q)
            have.add(q.question_key)
    s.flush()


def add_deliveries(s: Session, pulse_id: int, deliveries: Iterable[dict]) -> None:
    """Insert delivery rows (user_id, platform, question_keys, due_at, optionally status …) in bulk
    statements, skipping people the pulse has a row for already: building and flushing 20,000 ORM
    objects took 16 s. Planning may stop half-way (a crash) and add the rest later."""
    now = utcnow()
    rows = [{**_DELIVERY_DEFAULTS, "created_at": now, **d, "pulse_id": pulse_id} for d in deliveries]
    stmt = dialect_insert(s, PulseDelivery.__table__).on_conflict_do_nothing(index_elements=["pulse_id", "user_id"])
    for chunk in _chunks(rows, 1000):
        s.execute(stmt, chunk)


def planned_user_ids(s: Session, pulse_id: int) -> set[int]:
    return set(s.execute(select(PulseDelivery.user_id).where(PulseDelivery.pulse_id == pulse_id)).scalars())


def create_pulse(s: Session, pulse: Pulse, questions: Iterable[PulseQuestion], deliveries: Iterable[dict]) -> Pulse | None:
    """A pulse with its questions and delivery rows in this transaction (small teams, ad-hoc and
    demo pulses); None when its source key exists already. Scheduled pulses are planned in chunks
    (bot/pulses/schedule.py)."""
    if insert_pulse(s, pulse, questions) is None:
        return None
    add_deliveries(s, pulse.id, deliveries)
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


def delivery_of(s: Session, pulse_id: int, user_ids: int | list[int]) -> PulseDelivery | None:
    """The person's delivery in a pulse, whichever of their accounts (user ids, preferred first) it went to."""
    ids = [user_ids] if isinstance(user_ids, int) else list(user_ids)
    rows = {d.user_id: d for d in s.execute(select(PulseDelivery).where(PulseDelivery.pulse_id == pulse_id, PulseDelivery.user_id.in_(ids))).scalars()}
    return next((rows[i] for i in ids if i in rows), None)


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


def open_deliveries_for(s: Session, user_ids: int | list[int], now: datetime) -> list[tuple[PulseDelivery, Pulse]]:
    """Open deliveries of a person (any of their accounts), one per pulse."""
    ids = [user_ids] if isinstance(user_ids, int) else list(user_ids)
    rows = s.execute(
        select(PulseDelivery, Pulse)
        .join(Pulse, Pulse.id == PulseDelivery.pulse_id)
        .where(PulseDelivery.user_id.in_(ids), Pulse.status == "open", Pulse.closes_at > now, PulseDelivery.status != "expired")
        .order_by(Pulse.id)
    ).all()
    seen: set[int] = set()
    out = []
    for delivery, pulse in sorted(rows, key=lambda r: (r[1].id, ids.index(r[0].user_id))):
        if pulse.id not in seen:
            seen.add(pulse.id)
            out.append((delivery, pulse))
    return out


def open_team_pulses(s: Session, team_ids: list[int], now: datetime) -> list[Pulse]:
    if not team_ids:
        return []
    return list(
        s.execute(
            select(Pulse).where(Pulse.team_id.in_(team_ids), Pulse.status == "open", Pulse.closes_at > now, Pulse.kind == "scheduled")
        ).scalars()
    )


def answers_of(s: Session, pulse_id: int, respondent: str) -> dict[int, PulseAnswer]:
    query = select(PulseAnswer).where(PulseAnswer.pulse_id == pulse_id, PulseAnswer.respondent == respondent)
    rows = s.execute(query.execution_options(populate_existing=True)).scalars()
    return {a.question_id: a for a in rows}


def upsert_answer(s: Session, *, pulse_id: int, question_id: int, respondent: str, on: date, **values) -> None:
    """One row per (question, respondent): a second click or a changed answer updates it.

    Addressed by (question, respondent), never by the row id: the flag settler (bot/pulses/flags.py)
    re-inserts answer rows under new ids, and an update by id racing it would find nothing.
    """
    table = PulseAnswer.__table__
    where = (table.c.question_id == question_id, table.c.respondent == respondent)
    for _ in range(3):
        if s.execute(update(table).where(*where).values(answered_on=on, **values)).rowcount:
            return
        try:
            with s.begin_nested():
                s.execute(insert(table).values(id=uuid.uuid4().hex, pulse_id=pulse_id, question_id=question_id, respondent=respondent, answered_on=on, **values))
            return
        except IntegrityError:  # a concurrent click (or a settler's re-insert) got there first: update it
            continue
    raise RuntimeError("could not store the answer after 3 attempts")


def respondents_of(s: Session, pulse_id: int) -> set[str]:
    return set(s.execute(select(PulseAnswer.respondent).where(PulseAnswer.pulse_id == pulse_id).distinct()).scalars())


def flag_candidates(s: Session, pulse_id: int) -> list[tuple[int, int]]:
    """(delivery id, user id) of deliveries in a pulse not yet flagged as answered."""
    return list(s.execute(select(PulseDelivery.id, PulseDelivery.user_id).where(PulseDelivery.pulse_id == pulse_id, PulseDelivery.answered.is_(False))).all())


def flag_answered(s: Session, delivery_ids: list[int]) -> None:
    """Flip `answered` for a whole batch, one statement per row in the (already shuffled) given order."""
    for delivery_id in delivery_ids:
        s.execute(update(PulseDelivery).where(PulseDelivery.id == delivery_id).values(answered=True))


def rewrite_answers(s: Session, pulse_id: int, shuffle) -> int:
    """Delete and re-insert every answer row of a pulse, in random order under fresh random ids.

    After this, every answer of the pulse carries this transaction's PostgreSQL `xmin` and sits at
    a random physical position (ctid), and its SQLite primary key (the table is WITHOUT ROWID)
    is new: neither transaction ids nor row order say who answered when.
    """
    table = PulseAnswer.__table__
    rows = [dict(r._mapping) for r in s.execute(select(table).where(table.c.pulse_id == pulse_id))]
    if not rows:
        return 0
    shuffle(rows)
    s.execute(delete(table).where(table.c.pulse_id == pulse_id))
    for row in rows:
        row["id"] = uuid.uuid4().hex
        s.execute(insert(table).values(**row))
    return len(rows)


def pulses_to_settle(s: Session, since: datetime) -> list[Pulse]:
    """Open pulses, and pulses closed after `since` that may still have answers to flag."""
    return list(s.execute(select(Pulse).where(or_(Pulse.status == "open", Pulse.closes_at >= since)).order_by(Pulse.id)).scalars())


def reach(s: Session, pulse_id: int) -> int:
    """How many people a pulse's DM has reached so far."""
    return s.execute(select(func.count()).select_from(PulseDelivery).where(PulseDelivery.pulse_id == pulse_id, PulseDelivery.status == "sent")).scalar_one()


def participation_by_pulse(s: Session, pulse_ids: list[int]) -> list[tuple[int, int, int, int]]:
    """(pulse id, asked, answered, the pulse's own minimum) over delivered DMs, per pulse."""
    if not pulse_ids:
        return []
    answered = func.coalesce(func.sum(case((PulseDelivery.answered.is_(True), 1), else_=0)), 0)
    rows = s.execute(
        select(Pulse.id, func.count(PulseDelivery.id), answered, Pulse.min_group_size)
        .join(PulseDelivery, PulseDelivery.pulse_id == Pulse.id)
        .where(Pulse.id.in_(pulse_ids), PulseDelivery.status == "sent")
        .group_by(Pulse.id, Pulse.min_group_size)
    ).all()
    return [(int(a), int(b), int(c), int(d or 0)) for a, b, c, d in rows]


def answers_for_pulse(s: Session, pulse_id: int) -> list[PulseAnswer]:
    return list(s.execute(select(PulseAnswer).where(PulseAnswer.pulse_id == pulse_id)).scalars())


def recent_pulses(s: Session, *, team_ids: list[int], owner_id: int | list[int], limit: int = 3) -> list[Pulse]:
    """Pulses a lead may read: scheduled ones of their teams, and the ad-hoc ones they launched (from any of their accounts)."""
    cond = Pulse.owner_user_id.in_([owner_id] if isinstance(owner_id, int) else list(owner_id))
    if team_ids:
        cond = or_(cond, (Pulse.team_id.in_(team_ids)) & (Pulse.kind == "scheduled"))
    return list(s.execute(select(Pulse).where(cond).order_by(Pulse.opens_at.desc(), Pulse.id.desc()).limit(limit)).scalars())
