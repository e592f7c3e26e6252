"""Kudos rows and the reads the recognition feature needs."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from storage.directory.tables import User
from storage.recognition.tables import Kudos, KudosRecipient, KudosValue


def insert_kudos(
    session: Session, *, giver_id: int, recipient_ids: list[int], reason: str, values: list[str], platform: str, source_key: str
) -> Kudos:
    kudos = Kudos(giver_id=giver_id, reason=reason, platform=platform, source_key=source_key)
    session.add(kudos)
    session.flush()
    for user_id in dict.fromkeys(recipient_ids):
        session.add(KudosRecipient(kudos_id=kudos.id, user_id=user_id))
    for value in dict.fromkeys(values):
        session.add(KudosValue(kudos_id=kudos.id, value=value))
    session.flush()
    return kudos


def kudos_by_source(session: Session, source_key: str) -> Kudos | None:
    return session.execute(select(Kudos).where(Kudos.source_key == source_key)).scalar_one_or_none()


def recipients_of(session: Session, kudos_id: int) -> list[User]:
    return list(
        session.execute(
            select(User).join(KudosRecipient, KudosRecipient.user_id == User.id).where(KudosRecipient.kudos_id == kudos_id).order_by(User.id)
        ).scalars()
    )


def values_of(session: Session, kudos_id: int) -> list[str]:
    return list(session.execute(select(KudosValue.value).where(KudosValue.kudos_id == kudos_id).order_by(KudosValue.value)).scalars())
