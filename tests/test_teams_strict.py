"""Teams as strict as real Teams: form submissions from different people, one message per message,
updatable cards, payload limits. Activities go to the real /api/messages; the fake connector refuses
what Teams refuses (tests/fakes/bot_connector.py)."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import session
from storage.tables import Kudos
from storage.recognition_tables import Win
from tests.recognition_support import card_text, settle


def personal(member_id: str) -> dict:
    return {"conversationType": "personal", "tenantId": "tenant-1", "id": f"a:personal-{member_id}"}


async def known(server, *people: tuple[str, str]) -> None:
    """People the directory knows, the way it learns them without a sync: they wrote to the bot."""
    for member_id, name in people:
        await server.teams_send(server.teams_activity("<at>pulsebridge</at> help", sender=(member_id, name), conversation=personal(member_id)))
    await settle(server)
    server.connector.sent.clear()


async def test_two_people_submitting_forms_each_get_their_own_confirmation_and_a_retry_stays_one(server):
    """Attack on the delivery key: Ana and Dan both use the kudos form and the win form. Each must get
    their own private confirmation, all four must be stored, and only a true redelivery is dropped."""
    await known(server, ("29:bob", "Bob Stone"), ("29:erin", "Erin Park"))

    def kudos_form(reason: str) -> dict:
        return {"form_id": "kudos.give", "metadata": "", "multi": ["recipients"], "recipients": "29:bob", "reason": reason}

    def win_form(customer: str) -> dict:
        return {
            "form_id": "win.record", "metadata": "", "multi": ["contributors"], "customer": customer,
            "summary": f"{customer} renewal rescued", "won_on": "2026-11-18", "contributors": "29:erin",
        }

    people = {"29:ana": "Ana Lima", "29:dan": "Dan Wu"}
    submitted = {}
    for member_id, name in people.items():
        first = name.split()[0]
        for value in (kudos_form(f"{first}'s private thanks"), win_form(f"{first}Corp")):
            activity = server.teams_submit(value, sender=(member_id, name), conversation=personal(member_id), reply_to_id=f"act-form-{first}")
            submitted.setdefault(member_id, []).append(activity)
            assert (await server.teams_send(activity))[0] in (200, 201)
    await settle(server)

    def seen_by(member_id: str) -> str:
        cid = f"a:personal-{member_id}"
        sent = server.connector.sent_to(cid) + [u for u in server.connector.updated if u.conversation_id == cid]
        return "\n".join(card_text(s) for s in sent)

    ana_sees, dan_sees = seen_by("29:ana"), seen_by("29:dan")
    assert ana_sees.count("Kudos sent") == 1 and "AnaCorp" in ana_sees
    assert dan_sees.count("Kudos sent") == 1 and "DanCorp" in dan_sees
    assert "Dan" not in ana_sees and "DanCorp" not in ana_sees
    assert "Ana's" not in dan_sees and "AnaCorp" not in dan_sees
    with session(server.engine) as s:
        assert sorted(k.reason for k in s.execute(select(Kudos)).scalars()) == ["Ana's private thanks", "Dan's private thanks"]
        assert sorted(w.customer for w in s.execute(select(Win)).scalars()) == ["AnaCorp", "DanCorp"]

    # Teams redelivers the very same activities (same ids): deduplicated, nothing new anywhere.
    before = (len(server.connector.sent), len(server.connector.updated))
    for activity in submitted["29:ana"]:
        await server.teams_send(activity)
    await settle(server)
    assert (len(server.connector.sent), len(server.connector.updated)) == before
    with session(server.engine) as s:
        assert len(s.execute(select(Kudos)).scalars().all()) == 2
        assert len(s.execute(select(Win)).scalars().all()) == 2
