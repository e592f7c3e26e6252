"""Forgetting a person (`pulsebridge user delete EMAIL`), in the caller's single transaction.

What happens to each kind of row is decided here, table by table. Then `ERASURE_MAP` says, for
every column of every table, what it may hold about a person, and only those columns are
searched for mentions the rules above did not remove:

- identifiers (email, platform ids) are matched as whole tokens, never as part of a longer id;
- a display name is only matched in free text, and only when it is a full name (2+ words):
  display names are chosen by people and are often plain words ("sent", "closed", "Slack",
  "support"), which also are statuses, platforms and team names in other people's rows;
- columns that hold nothing about a person (numbers, dates, statuses, platforms, team names,
  other people's own names) are never read or written.

Fail closed: a table or column without an entry in the map (in SQLModel.metadata or in the live
database) stops the deletion before anything changes, and a mention still found afterwards (e.g.
in a primary key that cannot be rewritten) rolls the whole deletion back.

Rows that count towards anonymous or team aggregates are kept and pointed at a *tombstone*: a
user row with no name, email or platform id (one per deleted account, so the unique constraints
that say "one delivery per person per pulse" keep holding and participation counts do not move).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from sqlalchemy import JSON, MetaData, String, Table, Text, TypeDecorator, cast, delete, func, inspect, or_, select, update
from sqlmodel import Session, SQLModel

from storage.feedback.tables import CustomerKudos, Feedback
from storage.pulses.tables import Pulse, PulseDelivery
from storage.recognition.tables import KudosContext, Win, WinContributor
from storage.directory.tables import ConversationRef, TeamMember, User
from storage.kernel.tables import InboundDelivery, InboundJob, OutboxMessage
from storage.recognition.tables import Kudos, KudosRecipient, KudosValue
from storage.schema import import_all_tables

TOMBSTONE_PLATFORM = "erased"
REPLACEMENT = "[deleted]"


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
        """Every display name they had, however short: used only next to one of their identifiers."""
        return {" ".join(u.display_name.split()) for u in self.users if u.display_name.strip()}

    @property
    def full_names(self) -> set[str]:
        """Display names of two words or more: the only names searched for in free text."""
        return {name for name in self.names if len(name.split()) >= 2}


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


class SealedPayloads(Protocol):
    """Opens and re-seals accepted requests' payloads (bot/kernel/sealed.py `Sealer`); `open` raises ValueError when it cannot."""

    def open(self, key: str, stored: dict[str, Any]) -> dict[str, Any]: ...

    def seal(self, key: str, payload: dict[str, Any]) -> dict[str, Any]: ...


def erase_person(session: Session, email: str, *, sealed: SealedPayloads | None = None) -> ErasureReport | None:
    """Remove or anonymise everything about the person with this email; None if nothing is known.

    `sealed` opens the payloads of accepted requests still waiting (sealed with a key derived from
    PULSEBRIDGE_SECRET_KEY): the column search cannot see into them.
    """
    import_all_tables()
    problems = map_problems(SQLModel.metadata) + unmapped_in_database(session)
    if problems:
        raise ErasureIncomplete("no erasure rule for " + ", ".join(problems))
    person = find_person(session, email)
    if person is None:
        return None
    matcher = Mentions(person)
    report = ErasureReport()
    for user in person.users:
        _erase_account(session, user, person.email, report)
    for member in person.memberships:
        session.delete(member)
    report.memberships = len(person.memberships)
    session.flush()
    report.scrubbed = scrub(session, matcher)
    waiting = _scrub_sealed_jobs(session, matcher, sealed)
    if waiting:
        report.scrubbed["inbound_jobs (sealed, waiting)"] = waiting
    left = leftovers(session, matcher)
    if left:
        raise ErasureIncomplete("personal data still found in " + ", ".join(left))
    return report


def _scrub_sealed_jobs(session: Session, mentions: Mentions, sealed: SealedPayloads | None) -> int:
    """Each waiting request with a sealed payload is opened, scrubbed like any JSON column and sealed
    again: a request of theirs processed after the deletion must not bring their data back."""
    changed = 0
    rows = session.execute(select(InboundJob.id, InboundJob.key, InboundJob.payload).where(InboundJob.status == "accepted")).all()
    for job_id, key, payload in rows:
        if not isinstance(payload, dict) or "sealed" not in payload:
            continue
        if sealed is None:
            raise ErasureIncomplete(f"accepted request {job_id} is waiting, sealed, and PULSEBRIDGE_SECRET_KEY is not set to open it (set it as the server has it, and run this again)")
        try:
            plain = sealed.open(key, payload)
        except ValueError as exc:
            raise ErasureIncomplete(f"accepted request {job_id} cannot be opened ({exc}); start pulsebridge once (it marks such a request failed)") from exc
        new = mentions.replace(Kind.JSON, plain)
        if new != plain:
            # Still waiting: a server that finished it meanwhile has blanked it, and that stays.
            session.execute(update(InboundJob).where(InboundJob.id == job_id, InboundJob.status == "accepted").values(payload=sealed.seal(key, new)))
            changed += 1
    return changed


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
    """Any other USER_REF column (one without a rule above): nullable → NULL, else → tombstone."""
    for table, column in _columns_of_kind(Kind.USER_REF):
        target = None if column.nullable else tid
        session.execute(update(table).where(column == uid).values({column.name: target}))


# -- what each column may hold about a person ------------------------------------------------------


class Kind(Enum):
    NONE = "none"  # nothing about a person: numbers, dates, statuses, platforms, team names, config words, others' own names
    USER_REF = "user_ref"  # a users.id: an explicit rule above, else NULL / the tombstone
    IDENT = "ident"  # a structured value (key, address, id): their email or platform id as a whole token
    TEXT = "text"  # free text: their identifiers as tokens, and their full name (2+ words)
    JSON = "json"  # a structured document: IDENT rules on its values, TEXT rules on its text, plus names beside their ids


def _table(*, none: str = "", user_ref: str = "", ident: str = "", text: str = "", json: str = "") -> dict[str, Kind]:
    out: dict[str, Kind] = {}
    for kind, names in ((Kind.NONE, none), (Kind.USER_REF, user_ref), (Kind.IDENT, ident), (Kind.TEXT, text), (Kind.JSON, json)):
        for name in names.split():
            if name in out:
                raise ValueError(f"column {name} listed twice")
            out[name] = kind
    return out


# Every table and every column; map_problems() (and a test) fail when one is missing or stale.
ERASURE_MAP: dict[str, dict[str, Kind]] = {
    # The person's own rows are deleted above; other people's names and settings are theirs.
    "users": _table(none="id platform display_name timezone is_bot active created_at updated_at", ident="email external_id"),
    "teams": _table(none="id slug name slack_channel teams_channel timezone source"),
    "team_members": _table(none="id team_id is_lead", ident="identifier"),
    "conversation_refs": _table(none="id platform kind updated_at", ident="conversation_id", user_ref="user_id", json="reference"),
    "inbound_deliveries": _table(none="received_at", ident="key"),  # a dedupe key naming them is deleted
    # Requests recorded before their ack (issue 17): the payload names the person until processed.
    "inbound_jobs": _table(none="id kind platform status attempts created_at started_at finished_at", ident="key", text="last_error", json="payload"),
    "kudos": _table(none="id platform created_at", user_ref="giver_id", text="reason", ident="source_key"),
    "kudos_recipients": _table(none="kudos_id", user_ref="user_id"),
    # Values come from the config; an id found here is reported (primary key: cannot be rewritten).
    "kudos_values": _table(none="kudos_id", ident="value"),
    "outbox": _table(
        none="id platform status attempts platform_ref created_at sent_at", ident="key destination", text="last_error", json="payload"
    ),
    "pulses": _table(
        none="id kind team_id cycle_date opens_at closes_at remind_at reminded status min_group_size created_at",
        ident="source_key",
        user_ref="owner_user_id",
    ),
    "pulse_questions": _table(none="id pulse_id question_key driver text scale choices allow_comment"),
    "pulse_deliveries": _table(
        none="id pulse_id platform question_keys due_at status claim_token attempts platform_ref sent_at answered created_at",
        user_ref="user_id",
        text="last_error",
    ),
    "pulse_answers": _table(none="id pulse_id question_id respondent value polarity answered_on", text="text comment"),
    "wins": _table(none="id won_on platform created_at", text="customer summary value", ident="source_key", user_ref="created_by"),
    "win_contributors": _table(none="win_id", user_ref="user_id"),
    "kudos_context": _table(none="kudos_id win_id private"),
    # customer_name / giver_label are the customer's own name, not the employee's.
    "feedback": _table(
        none="id source customer_name customer_account score scale sentiment polarity status route_method route_confidence created_at received_at",
        ident="external_id agent_email agent_id",
        text="text agent_name route_detail",
        user_ref="routed_user_id routed_by_user_id",
        json="raw",
    ),
    "customer_kudos": _table(none="id feedback_id giver_label score scale route_method created_at", user_ref="user_id", text="quote"),
    "scheduler_lease": _table(none="name holder acquired_at expires_at"),
    "goals": _table(
        none="id key metric target period starts_on due_on source active created_at updated_at", text="title", user_ref="created_by"
    ),
    "goal_teams": _table(none="goal_id team_id"),
}
# Tables the database has that are not SQLModel tables.
DATABASE_ONLY_MAP: dict[str, dict[str, Kind]] = {"alembic_version": _table(none="version_num")}


def _refers_to_users(column: Any) -> bool:
    return any(fk.column.table.name == "users" and fk.column.name == "id" for fk in column.foreign_keys)


def _base_type(column: Any) -> Any:
    """SQLModel's AutoString is a TypeDecorator over String: look through decorators."""
    return column.type.impl if isinstance(column.type, TypeDecorator) else column.type


def map_problems(metadata: MetaData, erasure_map: dict[str, dict[str, Kind]] | None = None) -> list[str]:
    """Every table.column of `metadata` without an entry, entries for columns that do not exist, and wrong kinds."""
    erasure_map = ERASURE_MAP if erasure_map is None else erasure_map
    problems = []
    for table in metadata.sorted_tables:
        rules = erasure_map.get(table.name)
        if rules is None:
            problems.append(f"{table.name} (table)")
            continue
        for column in table.columns:
            kind = rules.get(column.name)
            where = f"{table.name}.{column.name}"
            if kind is None:
                problems.append(where)
            elif _refers_to_users(column) != (kind is Kind.USER_REF):
                problems.append(f"{where} (references users.id: must be, and only it may be, {Kind.USER_REF.value})")
            elif kind in (Kind.IDENT, Kind.TEXT) and not isinstance(_base_type(column), (String, Text)):
                problems.append(f"{where} ({kind.value} on a non-text column)")
            elif kind is Kind.JSON and not isinstance(_base_type(column), JSON):
                problems.append(f"{where} (json on a non-JSON column)")
        problems += [f"{table.name}.{name} (no such column)" for name in rules if name not in table.columns]
    known = {t.name for t in metadata.sorted_tables}
    problems += [f"{name} (no such table)" for name in erasure_map if name not in known]
    return problems


def unmapped_in_database(session: Session) -> list[str]:
    """Tables and columns the live database has (a hand-made table, a migration from a newer version) that the map lacks."""
    inspector = inspect(session.connection())
    known = {**ERASURE_MAP, **DATABASE_ONLY_MAP}
    problems = []
    for name in inspector.get_table_names():
        if name not in known:
            problems.append(f"{name} (table in the database)")
            continue
        problems += [f"{name}.{c['name']} (column in the database)" for c in inspector.get_columns(name) if c["name"] not in known[name]]
    return problems


def _columns_of_kind(*kinds: Kind) -> list[tuple[Table, Any]]:
    return [
        (table, column)
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if ERASURE_MAP[table.name][column.name] in kinds
    ]


# -- finding and replacing mentions ------------------------------------------------------------------


def _looks_like_an_id(external_id: str) -> bool:
    """Platform ids (U0BOB, 29:1ab…) have digits or separators; a bare word (the demo's `ana`) is only trusted in id columns."""
    return not external_id.isalpha()


class Mentions:
    """The person's identifiers and full names as patterns, and the rules per column kind."""

    def __init__(self, person: Person):
        email = re.compile(r"(?<![\w.+-])" + re.escape(person.email) + r"(?![\w-]|\.\w)", re.IGNORECASE)
        # (identifier, trusted in free text): `U0BOB`, `slack:U0BOB`, `29:bob`, `teams:29:bob`.
        ids: dict[str, bool] = {}
        for u in person.users:
            in_text = _looks_like_an_id(u.external_id)
            ids[u.external_id] = ids.get(u.external_id, False) or in_text
            ids[f"{u.platform}:{u.external_id}"] = True
        # Platform ids are case-sensitive; `U0BOB` must not match inside `U0BOBBY` or `x-U0BOB2`.
        by_length = sorted(ids, key=len, reverse=True)
        id_pattern = {i: re.compile(r"(?<!\w)" + re.escape(i) + r"(?![\w-])") for i in by_length}
        full_names = [
            re.compile(r"(?<!\w)" + r"\s+".join(re.escape(part) for part in name.split()) + r"(?!\w)", re.IGNORECASE)
            for name in sorted(person.full_names, key=len, reverse=True)
        ]
        self.exact_ids = {person.email.lower(), *ids}
        self.names = {n.lower() for n in person.names}
        self.ident = [email, *id_pattern.values()]
        self.text = [email, *(id_pattern[i] for i in by_length if ids[i]), *full_names]
        self.ident_literals: list[str] | None = [person.email, *ids]
        name_literals = [_ascii_run(name) for name in person.full_names]
        self.text_literals = None if None in name_literals else [*self.ident_literals, *name_literals]

    def literals(self, kind: Kind) -> list[str] | None:
        """Substrings a matching value must contain (None: read every row), a cheap SQL pre-filter before the rules run in Python."""
        return self.ident_literals if kind is Kind.IDENT else self.text_literals

    def _is_exact_id(self, value: str) -> bool:
        return value.lower() in self.exact_ids if "@" in value else value in self.exact_ids

    def replace(self, kind: Kind, value: Any) -> Any:
        if value is None:
            return value
        if kind is Kind.IDENT:
            return _sub(value, self.ident) if isinstance(value, str) else value
        if kind is Kind.TEXT:
            return _sub(value, self.text) if isinstance(value, str) else value
        if kind is Kind.JSON:
            return self._replace_json(value)
        return value

    def _replace_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return REPLACEMENT if self._is_exact_id(value) else _sub(value, self.text)
        if isinstance(value, list):
            return [self._replace_json(v) for v in value]
        if isinstance(value, dict):
            # {"external_id": "U0BOB", "display_name": "sent"}: a name beside one of their ids is theirs, however short.
            theirs = any(isinstance(v, str) and self._is_exact_id(v) for v in value.values())
            return {
                self._replace_json(k): (
                    REPLACEMENT if theirs and isinstance(v, str) and " ".join(v.split()).lower() in self.names else self._replace_json(v)
                )
                for k, v in value.items()
            }
        return value


def _ascii_run(name: str) -> str | None:
    """The longest ASCII letters/digits run of a name: SQLite's lower() folds only ASCII, and JSON escapes the rest."""
    runs = re.findall(r"[A-Za-z0-9]{2,}", name)
    return max(runs, key=len) if runs else None


def _sub(value: str, patterns: list[re.Pattern[str]]) -> str:
    for pattern in patterns:
        value = pattern.sub(REPLACEMENT, value)
    return value


def _candidates(session: Session, table: Table, column: Any, literals: list[str] | None):
    pk = list(table.primary_key.columns)
    query = select(*pk, column)
    if literals is not None:
        as_text = func.lower(cast(column, Text)) if isinstance(_base_type(column), JSON) else func.lower(column)
        query = query.where(or_(*(as_text.contains(lit.lower(), autoescape=True) for lit in literals)))
    return session.execute(query).all()


def _searched_columns() -> list[tuple[Table, Any, Kind]]:
    return [(t, c, ERASURE_MAP[t.name][c.name]) for t, c in _columns_of_kind(Kind.IDENT, Kind.TEXT, Kind.JSON)]


def scrub(session: Session, mentions: Mentions) -> dict[str, int]:
    """Replace the person's identifiers and full name where the map says they may be; dedupe keys that name them are dropped."""
    counts: dict[str, int] = {}
    for table, column, kind in _searched_columns():
        pk = list(table.primary_key.columns)
        for row in _candidates(session, table, column, mentions.literals(kind)):
            *key, value = row
            new = mentions.replace(kind, value)
            if new == value:
                continue
            where = [c == k for c, k in zip(pk, key)]
            if column.primary_key:
                if table.name != InboundDelivery.__tablename__:
                    continue  # left for leftovers() to report
                session.execute(delete(table).where(*where))
            else:
                session.execute(update(table).where(*where).values({column.name: new}))
            counts[table.name] = counts.get(table.name, 0) + 1
    session.flush()
    return counts


def leftovers(session: Session, mentions: Mentions) -> list[str]:
    found = []
    for table, column, kind in _searched_columns():
        rows = _candidates(session, table, column, mentions.literals(kind))
        if any(mentions.replace(kind, value) != value for *_, value in rows):
            found.append(f"{table.name}.{column.name}")
    return found
