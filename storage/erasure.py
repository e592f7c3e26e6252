"""Forgetting a person (`pulsebridge user delete EMAIL`), in the caller's single transaction.

What happens to each kind of row is decided here, table by table; afterwards a sweep over every
text and JSON column of every table in SQLModel.metadata replaces any remaining mention of the
person (email, platform ids, display name) and a final check refuses to commit if anything is
left. So a table added later without an erasure rule is still scrubbed, or the deletion fails
loudly instead of leaving data behind.

Rows that count towards anonymous or team aggregates are kept and pointed at a *tombstone*: a
user row with no name, email or platform id (one per deleted account, so the unique constraints
that say "one delivery per person per pulse" keep holding and participation counts do not move).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, String, Table, Text, TypeDecorator, cast, delete, func, or_, select, update
from sqlmodel import Session, SQLModel

from storage.feedback_tables import CustomerKudos, Feedback
from storage.pulse_tables import Pulse, PulseDelivery
from storage.recognition_tables import KudosContext, Win, WinContributor
from storage.tables import (
    ConversationRef,
    InboundDelivery,
    Kudos,
    KudosRecipient,
    KudosValue,
    OutboxMessage,
    TeamMember,
    User,
    import_all_tables,
)

TOMBSTONE_PLATFORM = "erased"
REPLACEMENT = "[deleted]"
# Shorter names ("Al", "Bo") would also match inside unrelated words; they are left to the
# structural rules (the person's own rows are removed or blanked either way).
MIN_NAME_LENGTH = 3


class ErasureIncomplete(RuntimeError):
    """Personal data was still found after erasing; the transaction must be rolled back."""


@dataclass
class Person:
    email: str
    users: list[User]
    memberships: list[TeamMember]

    @property
    def identifiers(self) -> set[str]:
        return {self.email} | {f"{u.platform}:{u.external_id}" for u in self.users}

    @property
    def names(self) -> set[str]:
        return {u.display_name.strip() for u in self.users if len(u.display_name.strip()) >= MIN_NAME_LENGTH}


@dataclass
class ErasureReport:
    accounts: int = 0
    memberships: int = 0
    kudos_given_anonymised: int = 0
    kudos_received_removed: int = 0
    kudos_deleted: int = 0
    wins_contributions: int = 0
    customer_kudos: int = 0
    feedback_unlinked: int = 0
    conversations: int = 0
    outbox: int = 0
    pulse_deliveries_anonymised: int = 0
    scrubbed: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"accounts removed: {self.accounts}",
            f"team memberships removed: {self.memberships}",
            f"kudos given (anonymised, reason blanked): {self.kudos_given_anonymised}",
            f"kudos received (removed as recipient): {self.kudos_received_removed}, kudos deleted (no recipient left): {self.kudos_deleted}",
            f"win contributions removed: {self.wins_contributions}",
            f"customer kudos removed: {self.customer_kudos}",
            f"customer feedback unlinked and blanked: {self.feedback_unlinked}",
            f"conversation references removed: {self.conversations}",
            f"outbox messages to them removed: {self.outbox}",
            f"pulse deliveries anonymised: {self.pulse_deliveries_anonymised}",
        ]
        if self.scrubbed:
            out.append("mentions replaced: " + ", ".join(f"{t} {n}" for t, n in sorted(self.scrubbed.items())))
        return out


def find_person(session: Session, email: str) -> Person | None:
    email = email.strip().lower()
    users = list(session.execute(select(User).where(func.lower(User.email) == email).order_by(User.id)).scalars())
    idents = {email} | {f"{u.platform}:{u.external_id}" for u in users}
    memberships = list(session.execute(select(TeamMember).where(TeamMember.identifier.in_(idents))).scalars())
    if not users and not memberships:
        return None
    return Person(email, users, memberships)


def erase_person(session: Session, email: str) -> ErasureReport | None:
    """Remove or anonymise everything about the person with this email; None if nothing is known."""
    import_all_tables()
    person = find_person(session, email)
    if person is None:
        return None
    patterns = mention_patterns(person)
    report = ErasureReport()
    for user in person.users:
        _erase_account(session, user, person.email, report)
    for member in person.memberships:
        session.delete(member)
    report.memberships = len(person.memberships)
    session.flush()
    report.scrubbed = scrub(session, patterns)
    left = leftovers(session, patterns)
    if left:
        raise ErasureIncomplete("personal data still found in " + ", ".join(left))
    return report


def _erase_account(session: Session, user: User, email: str, report: ErasureReport) -> None:
    tombstone = User(platform=TOMBSTONE_PLATFORM, external_id=uuid.uuid4().hex, display_name="", active=False)
    session.add(tombstone)
    session.flush()
    uid, tid = user.id, tombstone.id

    # Kudos they gave still count for the people who received them: anonymise the giver, blank the text.
    report.kudos_given_anonymised += session.execute(
        update(Kudos).where(Kudos.giver_id == uid).values(giver_id=tid, reason="")
    ).rowcount
    # Kudos they received are about them: drop them as recipient; the text goes too (it is about
    # them even when others were thanked in the same kudos), and a kudos with nobody left is deleted.
    received = list(session.execute(select(KudosRecipient.kudos_id).where(KudosRecipient.user_id == uid)).scalars())
    session.execute(delete(KudosRecipient).where(KudosRecipient.user_id == uid))
    report.kudos_received_removed += len(received)
    if received:
        still = set(session.execute(select(KudosRecipient.kudos_id).where(KudosRecipient.kudos_id.in_(received))).scalars())
        orphans = [k for k in received if k not in still]
        if still:
            session.execute(update(Kudos).where(Kudos.id.in_(still)).values(reason=""))
        if orphans:
            session.execute(delete(KudosValue).where(KudosValue.kudos_id.in_(orphans)))
            session.execute(delete(KudosContext).where(KudosContext.kudos_id.in_(orphans)))
            session.execute(delete(Kudos).where(Kudos.id.in_(orphans)))
            report.kudos_deleted += len(orphans)

    report.wins_contributions += session.execute(delete(WinContributor).where(WinContributor.user_id == uid)).rowcount
    session.execute(update(Win).where(Win.created_by == uid).values(created_by=tid))

    report.customer_kudos += session.execute(delete(CustomerKudos).where(CustomerKudos.user_id == uid)).rowcount
    # Feedback stays for CSAT counts (score, sentiment, source, dates); what tied it to them goes.
    blank = dict(routed_user_id=None, text="", raw={}, route_detail=None, agent_email=None, agent_name=None, agent_id=None)
    report.feedback_unlinked += session.execute(
        update(Feedback).where(or_(Feedback.routed_user_id == uid, func.lower(Feedback.agent_email) == email)).values(**blank)
    ).rowcount
    session.execute(update(Feedback).where(Feedback.routed_by_user_id == uid).values(routed_by_user_id=None))

    report.conversations += session.execute(
        delete(ConversationRef).where(ConversationRef.user_id == uid, ConversationRef.kind == "personal")
    ).rowcount
    session.execute(update(ConversationRef).where(ConversationRef.user_id == uid).values(user_id=None))
    report.outbox += session.execute(
        delete(OutboxMessage).where(OutboxMessage.platform == user.platform, OutboxMessage.destination == f"dm:{user.external_id}")
    ).rowcount

    # Who was asked stays counted (participation), but as nobody: the DM's location and errors go.
    report.pulse_deliveries_anonymised += session.execute(
        update(PulseDelivery).where(PulseDelivery.user_id == uid).values(user_id=tid, platform_ref=None, last_error=None, claim_token=None)
    ).rowcount
    session.execute(update(Pulse).where(Pulse.owner_user_id == uid).values(owner_user_id=None))
    _reassign_remaining_references(session, uid, tid)
    session.flush()
    session.delete(user)
    session.flush()
    report.accounts += 1


def _reassign_remaining_references(session: Session, uid: int, tid: int) -> None:
    """Any other column pointing at users.id (a feature's table without a rule here): nullable → NULL, else → tombstone."""
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "users" and fk.column.name == "id" for fk in column.foreign_keys):
                target = None if column.nullable else tid
                session.execute(update(table).where(column == uid).values({column.name: target}))


# -- mentions anywhere ----------------------------------------------------------------------------


def mention_patterns(person: Person) -> list[tuple[str, re.Pattern[str]]]:
    """(literal, regex) pairs; the regex keeps `U0BOB` from matching inside `U0BOBBY`, an email inside a longer one."""
    out = [(person.email, re.compile(r"(?<![\w.+-])" + re.escape(person.email) + r"(?![\w-]|\.\w)", re.I))]
    for user in person.users:
        out.append((user.external_id, re.compile(r"(?<!\w)" + re.escape(user.external_id) + r"(?![\w-])", re.I)))
    for name in person.names:
        out.append((name, re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)", re.I)))
    return out


def _base_type(column: Any) -> Any:
    """SQLModel's AutoString is a TypeDecorator over String: look through decorators."""
    return column.type.impl if isinstance(column.type, TypeDecorator) else column.type


def _text_columns(table: Table) -> Iterable[Any]:
    for column in table.columns:
        if isinstance(_base_type(column), (String, Text, JSON)):
            yield column


def _candidates(session: Session, table: Table, column: Any, literals: list[str]):
    as_text = func.lower(cast(column, Text)) if isinstance(_base_type(column), JSON) else func.lower(column)
    condition = or_(*(as_text.contains(lit.lower(), autoescape=True) for lit in literals))
    pk = list(table.primary_key.columns)
    return session.execute(select(*pk, column).where(condition)).all()


def _replace(value: Any, patterns: list[tuple[str, re.Pattern[str]]]) -> Any:
    if isinstance(value, str):
        for _, pattern in patterns:
            value = pattern.sub(REPLACEMENT, value)
        return value
    if isinstance(value, list):
        return [_replace(v, patterns) for v in value]
    if isinstance(value, dict):
        return {_replace(k, patterns): _replace(v, patterns) for k, v in value.items()}
    return value


def _matches(value: Any, patterns: list[tuple[str, re.Pattern[str]]]) -> bool:
    return _replace(value, patterns) != value


def scrub(session: Session, patterns: list[tuple[str, re.Pattern[str]]]) -> dict[str, int]:
    """Replace the person's email, ids and name wherever they still appear; dedupe keys that name them are dropped."""
    literals = [lit for lit, _ in patterns]
    counts: dict[str, int] = {}
    for table in SQLModel.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        for column in _text_columns(table):
            for row in _candidates(session, table, column, literals):
                *key, value = row
                if not _matches(value, patterns):
                    continue
                where = [c == k for c, k in zip(pk, key)]
                if column.primary_key:
                    if table.name != InboundDelivery.__tablename__:
                        continue  # left for leftovers() to report
                    session.execute(delete(table).where(*where))
                else:
                    session.execute(update(table).where(*where).values({column.name: _replace(value, patterns)}))
                counts[table.name] = counts.get(table.name, 0) + 1
    session.flush()
    return counts


def leftovers(session: Session, patterns: list[tuple[str, re.Pattern[str]]]) -> list[str]:
    literals = [lit for lit, _ in patterns]
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for column in _text_columns(table):
            if any(_matches(value, patterns) for *_, value in _candidates(session, table, column, literals)):
                found.append(f"{table.name}.{column.name}")
    return found
