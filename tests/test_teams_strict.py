"""Teams as strict as real Teams: form submissions from different people, one message per message,
updatable cards, payload limits. Activities go to the real /api/messages; the fake connector refuses
what Teams refuses (tests/fakes/bot_connector.py)."""

from __future__ import annotations

from sqlalchemy import select

from storage.kernel.db import session, write_unit
from storage.recognition.tables import Kudos
from storage.recognition.tables import Win
from tests.feedback_support import fb  # noqa: F401 - fixture
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


# -- the fake refuses what Teams refuses ---------------------------------------------------------


async def _post(method: str, url: str, body: dict) -> tuple[int, dict]:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.request(method, url, json=body) as resp:
            return resp.status, (await resp.json(content_type=None)) or {}


async def test_the_fake_connector_is_as_strict_as_teams(fake_connector):
    base = fake_connector.url + "v3/conversations/19:c@thread.tacv2/activities"
    card = {"contentType": "application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard", "version": "1.5", "body": []}}
    status, body = await _post("POST", base, {"type": "message", "text": "<at>Bob</at>", "attachments": [card]})
    assert (status, body.get("id")) == (202, None)  # two posts in Teams, no id to update
    assert [bool(s.activity.get("text")) for s in fake_connector.sent] == [True, False]
    status, body = await _post("PUT", base + "/act-1", {"type": "message", "text": "hi", "attachments": [card]})
    assert status == 400 and body["error"] == {"code": "BadSyntax", "message": "Activity resulted into multiple skype activities"}
    big = {"type": "message", "attachments": [card], "summary": "x" * (100 * 1024)}
    assert (await _post("POST", base, big))[0] == 413
    assert (await _post("PUT", base + "/act-1", big))[0] == 413
    assert (await _post("POST", base, {"type": "message", "attachments": [card]}))[0] == 200


# -- mentions inside the card: one message, updatable ----------------------------------------------


def one_message_each(connector) -> None:
    assert connector.split_posts == [], "an activity carried text and a card: Teams would post two messages"
    assert connector.refused == []


async def test_a_kudos_with_mentions_is_one_message_per_destination(server):
    activity = server.teams_activity(
        "<at>pulsebridge</at> kudos <at>Bob Stone</at> for the SSO fix", mentions=[("29:bob", "Bob Stone")], conversation=personal("29:ana")
    )
    await server.teams_send(activity)
    await settle(server)
    one_message_each(server.connector)
    channel = server.connector.sent_to("19:support@thread.tacv2")
    assert len(channel) == 1
    assert "29:bob" in [e["mentioned"]["id"] for e in channel[0].card["msteams"]["entities"]]
    assert "<at>Bob Stone</at>" in card_text(channel[0])


async def _triage_pick(fb, *, update_fails: bool):
    from tests.feedback_support import feedback_rows, generic, post_feedback, seed_directory, triage_post

    seed_directory(fb.engine, [("29:ana", "Ana Lima", "ana@example.com"), ("29:bob", "Bob Stone", "bob@example.com")], platform="teams")
    await fb.teams_send(fb.teams_activity("<at>pulsebridge</at> help"))
    await post_feedback(fb, generic("Whoever answered my chat was brilliant!", id="tri-strict", customer={"name": "Helena"}))
    await settle(fb)
    [row] = feedback_rows(fb.engine)
    _, card_id = triage_post(fb.engine, row.id, "teams")
    card = next(s.card for s in fb.connector.sent_to("19:triage@thread.tacv2"))
    submit = card["actions"][0]["data"]
    value = dict(submit, **{submit["user_picker"]: "29:bob"})
    if update_fails:
        fb.connector.update_failures.append(500)
    channel = {"id": "19:triage@thread.tacv2", "conversationType": "channel", "tenantId": "tenant-1"}
    fb.connector.sent.clear()
    await fb.teams_send(fb.teams_submit(value, sender=("29:ana", "Ana Lima"), reply_to_id=card_id, conversation=channel))
    await settle(fb)
    return feedback_rows(fb.engine)[0], card_id


async def test_a_triage_pick_updates_the_card_in_place_with_its_mentions(fb):
    row, card_id = await _triage_pick(fb, update_fails=False)
    assert row.status == "relayed"
    one_message_each(fb.connector)
    [update] = [u for u in fb.connector.updated if u.reply_to == card_id]
    assert "text" not in update.activity
    assert {e["mentioned"]["id"] for e in update.card["msteams"]["entities"]} == {"29:bob", "29:ana"}
    assert fb.connector.sent_to("a:personal-29:bob"), "Bob got his DM"


async def test_when_the_triage_update_fails_the_praise_still_reaches_bob_and_the_picker_is_told(fb):
    row, card_id = await _triage_pick(fb, update_fails=True)
    assert row.status == "relayed"
    assert fb.connector.refused[-1][1] == 500
    assert fb.connector.sent_to("a:personal-29:bob"), "the follow-ups were delivered although the update failed"
    told = "\n".join(card_text(s) for s in fb.connector.sent_to("19:triage@thread.tacv2"))
    assert "Bob Stone" in told and "Sorry, something went wrong" not in told


# -- pickers search the directory as you type ------------------------------------------------------


async def search(server, text: str, dataset: str, **kw) -> list[tuple[str, str]]:
    await server.teams_search(text, dataset, **kw)
    return server.last_search


def seed_people(engine, count: int) -> None:
    from bot.directory.lookup import store_profile
    from bot.kernel.events import Profile

    with write_unit(engine) as s:
        for i in range(count):
            store_profile(s, Profile("teams", f"29:p{i:04d}", f"Person {i:04d} " + "Longname" * 3, email=f"p{i:04d}@example.com"))


async def test_forms_and_triage_cards_stay_small_with_a_big_directory_and_search_instead(server):
    seed_people(server.engine, 2000)
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> win", conversation=personal("29:ana")))
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> kudos", conversation=personal("29:ana")))
    await settle(server)
    one_message_each(server.connector)
    forms = [s for s in server.connector.sent if s.card and any(b.get("type") == "Input.ChoiceSet" and "choices.data" in b for b in s.card["body"])]
    assert len(forms) == 2
    import json

    for form in forms:
        assert len(json.dumps(form.activity)) < 20_000  # was one entry per person: 2,000 people ≈ 400 KB
        picker = next(b for b in form.card["body"] if "choices.data" in b)
        assert picker["choices"] == [] and picker["choices.data"]["type"] == "Data.Query"

    found = await search(server, "person 00", "people.directory")
    assert len(found) == 15 and all(v.startswith("29:p00") for _, v in found)  # one page, never the directory
    assert await search(server, "p1999@", "people.directory") == [("Person 1999 " + "Longname" * 3, "29:p1999")]
    assert await search(server, "%", "people.directory") == []  # LIKE wildcards are text, not patterns
    assert await search(server, "", "people.nonsense") == []


async def test_kudos_search_leaves_out_the_person_searching(server):
    await known(server, ("29:bob", "Bob Stone"))
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> help", conversation=personal("29:ana")))
    assert await server.teams_search("", "people.directory") == ["29:ana", "29:bob"]
    assert await server.teams_search("", "people.others") == ["29:bob"]
    assert await server.teams_search("", "people.others", sender=("29:bob", "Bob Stone")) == ["29:ana"]


async def test_search_only_offers_people_of_the_askers_tenant(database_url, fake_slack, fake_connector):
    from tests.conftest import make_settings, start_server

    settings = make_settings(database_url, fake_slack.url, PULSEBRIDGE_TEAMS_TENANTS="tenant-1,tenant-2")
    runner, srv = await start_server(settings, fake_slack, fake_connector)
    try:
        await known(srv, ("29:ana", "Ana Lima"), ("29:bob", "Bob Stone"))
        other = {"conversationType": "personal", "tenantId": "tenant-2", "id": "a:personal-29:zed"}
        zed = srv.teams_activity("<at>pulsebridge</at> help", sender=("29:zed", "Zed Other"), conversation=other)
        zed["channelData"] = {"tenant": {"id": "tenant-2"}}
        await srv.teams_send(zed)
        await settle(srv)
        assert await srv.teams_search("", "people.directory") == ["29:ana", "29:bob"]
        assert await srv.teams_search("", "people.directory", sender=("29:zed", "Zed Other"), tenant="tenant-2") == ["29:zed"]
        assert await srv.teams_search("Ana", "people.directory", sender=("29:zed", "Zed Other"), tenant="tenant-2") == []
    finally:
        await runner.cleanup()
        srv.engine.dispose()


# -- install: welcome once, learn the roster at once ---------------------------------------------

CHANNEL = {"conversationType": "channel", "tenantId": "tenant-1", "id": "19:general@thread.tacv2"}


def installed(server, activity_id: str) -> dict:
    activity = server.teams_activity("", conversation=CHANNEL, activity_id=activity_id)
    for key in ("text", "entities"):
        activity.pop(key, None)
    activity.update(type="conversationUpdate", membersAdded=[{"id": activity["recipient"]["id"]}])
    activity["channelData"] = {"tenant": {"id": "tenant-1"}, "team": {"id": "19:general@thread.tacv2"}, "eventType": "teamMemberAdded"}
    return activity


async def test_installing_the_app_posts_one_welcome_however_often_teams_says_so(server):
    for activity_id in ("install-1", "install-1", "install-2"):  # a redelivery, then a reinstall event
        assert (await server.teams_send(installed(server, activity_id)))[0] in (200, 201)
    await settle(server)
    welcomes = [s for s in server.connector.sent_to("19:general@thread.tacv2") if "Thanks for adding me" in card_text(s)]
    assert len(welcomes) == 1 and "Here is what I can do" in card_text(welcomes[0])
    one_message_each(server.connector)


async def test_pickers_know_a_channels_members_from_the_first_contact_without_a_directory_sync(server):
    assert await server.teams_search("", "people.directory") == ["29:ana"]  # only Ana, who is asking
    await server.teams_send(installed(server, "install-1"))
    await settle(server)
    # The fake roster: Ana, Bob and Dan, none of whom ever wrote to the bot.
    assert await server.teams_search("", "people.directory") == ["29:ana", "29:bob", "29:dan"]
    pages = len(server.connector.member_pages)
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> help", conversation=CHANNEL))
    await settle(server)
    assert len(server.connector.member_pages) == pages  # the roster is read once per conversation, not per message


# -- what concerns one person stays with that person ------------------------------------------------

SUPPORT = {"conversationType": "channel", "tenantId": "tenant-1", "id": "19:support@thread.tacv2;messageid=1700000000001"}


async def test_channel_and_tag_mentions_never_become_people(server):
    from storage.directory.tables import User

    activity = server.teams_activity("<at>pulsebridge</at> kudos <at>General</at> <at>Designers</at> for the launch", conversation=SUPPORT)
    activity["entities"] += [
        {"type": "mention", "text": "<at>General</at>", "mentioned": {"id": "19:general@thread.tacv2", "name": "General"}},
        {"type": "mention", "text": "<at>Designers</at>", "mentioned": {"id": "MCMjMSMjdGFnLWlk", "name": "Designers", "type": "tag"}},
    ]
    await server.teams_send(activity)
    await settle(server)
    with session(server.engine) as s:
        ids = set(s.execute(select(User.external_id)).scalars())
    assert not ids & {"19:general@thread.tacv2", "MCMjMSMjdGFnLWlk"}
    with session(server.engine) as s:
        assert s.execute(select(Kudos)).scalars().all() == []
    assert "General" not in [t for t, _ in await search(server, "", "people.directory")]


async def test_a_refusal_in_a_channel_thread_goes_to_the_person_not_the_channel(server):
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> kudos <at>Ana Lima</at> for me", mentions=[("29:ana", "Ana Lima")], conversation=SUPPORT))
    await settle(server)
    in_channel = "\n".join(card_text(s) for s in server.connector.sent if s.conversation_id.startswith("19:support"))
    assert "yourself" not in in_channel
    assert any("yourself" in card_text(s) for s in server.connector.sent_to("a:personal-29:ana"))


async def test_give_kudos_under_a_win_opens_the_form_privately_and_a_submitted_form_becomes_its_confirmation(server):
    # Bob and Dan become known with their emails (so their teams are known) through a kudos.
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> <at>Dan Wu</at> for the docs",
                                                  mentions=[("29:bob", "Bob Stone"), ("29:dan", "Dan Wu")], conversation=personal("29:ana")))
    await settle(server)
    server.connector.sent.clear()
    win = {"form_id": "win.record", "metadata": "", "multi": ["contributors"], "customer": "Globex", "summary": "Renewal saved",
           "won_on": "2026-11-18", "contributors": "29:bob"}
    await server.teams_send(server.teams_submit(win, sender=("29:dan", "Dan Wu"), conversation=personal("29:dan"), reply_to_id="act-win-form"))
    await settle(server)
    assert [u.reply_to for u in server.connector.updated] == ["act-win-form"]  # the form turned into the confirmation
    assert "Globex" in card_text(server.connector.updated[0]) and not server.connector.updated[0].card.get("actions")
    post = next(s for s in server.connector.sent_to("19:support@thread.tacv2"))
    server.connector.sent.clear()

    click = server.teams_submit(post.card["actions"][0]["data"], sender=("29:ana", "Ana Lima"), conversation=SUPPORT, reply_to_id="act-win-post")
    await server.teams_send(click)
    await settle(server)
    assert [s.conversation_id for s in server.connector.sent] == ["a:personal-29:ana"]  # not the channel
    assert "Give kudos" in card_text(server.connector.sent[0])


def test_a_row_longer_than_teams_shows_wraps_instead_of_hiding_buttons_in_a_menu():
    from adapters.teams.render import card
    from bot.kernel.messages import Actions, Button, Message

    scale = Actions(tuple(Button(str(i), f"pulse.answer:{i}", str(i)) for i in range(11)))  # eNPS 0-10
    rendered = card(Message(summary="q", blocks=(scale,)))
    rows = [b["actions"] for b in rendered["body"] if b["type"] == "ActionSet"] + [rendered.get("actions", [])]
    assert max(len(r) for r in rows) <= 6  # Teams' actions.maxActions
    assert [a["title"] for r in rows for a in r] == [str(i) for i in range(11)]  # all there, in order
