"""The demo playground: a third adapter driven over its own HTTP API, rendering the neutral messages."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from adapters.server import CORE, build_app
from bot.demo import seed as demo
from storage.kernel.db import session, write_unit
from storage.feedback.tables import CustomerKudos, Feedback
from storage.pulses.tables import Pulse, PulseAnswer, PulseDelivery
from storage.recognition.tables import Win, WinContributor
from storage.teamhealth.tables import Goal
from storage.directory.tables import User
from storage.recognition.tables import Kudos
from tests.conftest import make_settings, wait_for_scheduler

WEBHOOK_SECRET = "playground-test-secret-0123456789"
PULSE_KEY = "playground-test-pulse-key-0123456789abcdef"


async def start_playground(settings) -> tuple[web.AppRunner, web.Application, str]:
    """The seeded demo app with its playground on a loopback port: (runner, app, base URL)."""
    app = build_app(settings, org=demo.demo_org(), playground=True, bind_host="127.0.0.1")
    demo.seed(app[CORE])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, app, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def playground(database_url, fake_slack):
    settings = make_settings(
        database_url, fake_slack.url, FEEDBACK_WEBHOOK_SECRET=WEBHOOK_SECRET, PULSEBRIDGE_SECRET_KEY=PULSE_KEY, PULSEBRIDGE_SCHEDULER=True
    )
    runner, app, url = await start_playground(settings)
    # The tests run jobs themselves (time travel). Paused, the wall clock's minute ticks cannot race
    # with them: the first one opens the current week's seeded-but-unopened pulses and DMs them.
    (await wait_for_scheduler(app[CORE])).apscheduler.pause()
    async with aiohttp.ClientSession(base_url=url) as http:
        http.core = app[CORE]
        yield http
    await runner.cleanup()
    app[CORE].engine.dispose()


def counts(core) -> dict[str, int]:
    with session(core.engine) as s:
        return {
            table.__name__: s.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (User, Kudos, Win, WinContributor, Feedback, CustomerKudos, Pulse, PulseDelivery, PulseAnswer, Goal)
        }


async def post(http, path, payload):
    async with http.post(path, json=payload) as resp:
        return resp.status, await resp.json(content_type=None)


async def state(http, who):
    async with http.get("/playground/api/state", params={"as": who}) as resp:
        assert resp.status == 200
        return await resp.json()


def conversation(data, conv_id):
    return next(c for c in data["conversations"] if c["id"] == conv_id)


async def test_seeding_is_idempotent_and_covers_a_month_of_every_feature(playground):
    core = playground.core
    before = counts(core)
    demo.seed(core)
    assert counts(core) == before
    assert before["User"] == len(demo.PEOPLE) and before["Kudos"] > 10
    assert before["Win"] == len(demo.WINS) and before["WinContributor"] == sum(len(w[3]) for w in demo.WINS)
    assert before["Feedback"] == len(demo.FEEDBACK)
    assert before["Goal"] == len(core.org.teamhealth.goals) == 4  # goals come from the demo org file, by key
    with session(core.engine) as s:
        statuses = dict(s.execute(select(Feedback.status, func.count()).group_by(Feedback.status)).all())
        oldest = s.execute(select(func.min(Kudos.created_at))).scalar_one()
    praise = sum(1 for f in demo.FEEDBACK if f[2] >= 4)
    # History is credited (counted) and low scores are kept but never relayed, as the real import does.
    assert statuses == {"credited": praise, "not_kudos": len(demo.FEEDBACK) - praise}
    assert before["CustomerKudos"] == praise
    assert (core.clock() - _aware(oldest)).days >= 25
    # Four closed weekly pulses per team, every question answered by more people than the anonymity minimum.
    assert before["Pulse"] == demo.PULSE_WEEKS * 2
    minimum = core.org.pulses.min_group_size
    with session(core.engine) as s:
        per_question = s.execute(select(PulseAnswer.question_id, func.count()).group_by(PulseAnswer.question_id)).all()
        statuses = set(s.execute(select(Pulse.status)).scalars())
    assert len(per_question) == demo.PULSE_WEEKS * 2 * core.org.pulses.questions_per_pulse
    assert all(n >= minimum for _, n in per_question) and statuses == {"closed"}
    # Seeding sent nobody anything: history is not news.
    bob = await state(playground, "bob")
    assert all(not c["posts"] for c in bob["conversations"])


def _aware(value):
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def test_page_is_served(playground):
    async with playground.get("/playground") as resp:
        assert resp.status == 200 and "pulsebridge playground" in await resp.text()


async def test_kudos_in_the_playground_reaches_dm_and_team_channel_escaped(playground):
    status, _ = await post(playground, "/playground/api/command", {"as": "ana", "text": "/kudos @bob for <script>alert(1)</script> & more #craft", "client_id": "c-1"})
    assert status == 200
    # A double submit with the same client id is one kudos.
    await post(playground, "/playground/api/command", {"as": "ana", "text": "/kudos @bob for <script>alert(1)</script> & more #craft", "client_id": "c-1"})
    bob = await state(playground, "bob")
    dm = conversation(bob, "dm:bob")["posts"]
    assert len(dm) == 1 and "gave you kudos" in dm[0]["html"]
    assert "<script>" not in dm[0]["html"] and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in dm[0]["html"]
    channel = conversation(bob, "team:support")["posts"]
    assert len(channel) == 1 and "recognised" in channel[0]["html"]
    ana = await state(playground, "ana")
    mine = conversation(ana, "dm:ana")["posts"]
    assert any(p["ephemeral"] and "Kudos sent to" in p["html"] for p in mine)
    # Ephemeral answers are only visible to the person who typed the command.
    assert not any("Kudos sent to" in p["html"] for p in conversation(bob, "dm:bob")["posts"])


async def test_bad_playground_input_is_a_clear_error(playground):
    assert (await post(playground, "/playground/api/command", {"as": "nobody", "text": "/kudos @bob for x"}))[0] == 400
    assert (await post(playground, "/playground/api/command", {"as": "ana", "text": "   "}))[0] == 400
    assert (await post(playground, "/playground/api/command", {"as": "ana", "text": "/help", "conversation": "dm:bob"}))[0] == 400
    assert (await post(playground, "/playground/api/command", {"as": "ana", "text": "/help", "conversation": ["x"]}))[0] == 400
    assert (await post(playground, "/playground/api/action", {"as": "ana", "post": 99999, "action_id": "x"}))[0] == 400
    assert (await post(playground, "/playground/api/form", {"as": "ana", "post": "1"}))[0] == 400
    async with playground.post("/playground/api/command", data=b"not json", headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
    status, _ = await post(playground, "/playground/api/command", {"as": "ana", "text": "/kudos @ghost for haunting", "client_id": "c-2"})
    assert status == 200
    ana = await state(playground, "ana")
    assert any("couldn&#39;t find @ghost" in p["html"] or "couldn't find @ghost" in p["html"] for p in conversation(ana, "dm:ana")["posts"])


async def test_sample_feedback_goes_through_the_signed_webhook_to_the_viewer_and_their_team(playground):
    before = counts(playground.core)
    status, answer = await post(playground, "/playground/api/sample-feedback", {"as": "carla"})
    assert status == 200 and answer["webhook"]["status"] == "stored" and answer["webhook"]["relay"] == "relayed"
    after = counts(playground.core)
    assert (after["Feedback"], after["CustomerKudos"]) == (before["Feedback"] + 1, before["CustomerKudos"] + 1)
    with session(playground.core.engine) as s:
        row = s.get(Feedback, answer["webhook"]["id"])
        carla = s.execute(select(User).where(User.external_id == "carla")).scalar_one()
        assert (row.source, row.routed_user_id, row.route_method) == ("playground", carla.id, "explicit")
    carla_view = await state(playground, "carla")
    dm = conversation(carla_view, "dm:carla")["posts"]
    assert len(dm) == 1 and "Customer kudos" in dm[0]["html"] and "Carla" in dm[0]["html"]
    assert any("Customer kudos for" in p["html"] for p in conversation(carla_view, "team:support")["posts"])


async def test_sample_feedback_needs_a_webhook_secret_and_a_known_person(playground):
    core = playground.core
    before = counts(core)
    assert (await post(playground, "/playground/api/sample-feedback", {"as": "nobody"}))[0] == 400
    core.settings = core.settings.model_copy(update={"FEEDBACK_WEBHOOK_SECRET": None})
    status, answer = await post(playground, "/playground/api/sample-feedback", {"as": "bob"})
    assert status == 409 and "FEEDBACK_WEBHOOK_SECRET" in answer["error"]
    assert counts(core) == before


async def test_time_travel_lists_feature_jobs_and_runs_the_weekly_digest_now(playground):
    ana = await state(playground, "ana")
    jobs = {j["id"]: j for j in ana["jobs"]}
    assert {"recognition-digest:support", "recognition-digest:platform"} <= set(jobs)
    assert "outbox-retry" not in jobs  # housekeeping is not something to try
    # In words: what it does for this team (six people get a post per kudos, so the channel gets no digest) and when.
    label = jobs["recognition-digest:support"]["label"]
    assert label.startswith("Send support's weekly recognition digest now: its leads get it by DM; #support gets a post per kudos instead")
    assert "(next: Fri " in label and "16:00 (Europe/Berlin))" in label
    status, answer = await post(playground, "/playground/api/tick", {"job_id": "recognition-digest:support"})
    assert status == 200 and answer["ran"] == label
    # Ana leads support: the lead digest reaches her privately, built from the seeded month.
    dm = conversation(await state(playground, "ana"), "dm:ana")["posts"]
    assert len(dm) == 1 and "Acme Corp" in dm[0]["html"] and "kudos from customers" in dm[0]["html"]
    assert "##" not in dm[0]["html"]  # the summary line with customer kudos no longer swallows the next heading
    quiet = dm[0]["html"].split("Quiet contributors")[1]
    assert "Dev Patel" in quiet and "Bob Stone" not in quiet  # the seeded month leaves Dev unrecognised
    # The job is still scheduled for its usual time: time travel runs it early, it does not move it.
    assert any(j["id"] == "recognition-digest:support" for j in (await state(playground, "ana"))["jobs"])
    assert (await post(playground, "/playground/api/tick", {"job_id": "no-such-job"}))[0] == 400
    assert (await post(playground, "/playground/api/tick", {"job_id": 7}))[0] == 400


async def test_win_form_opens_and_submits_like_a_modal(playground):
    await post(playground, "/playground/api/command", {"as": "bob", "text": "/win", "client_id": "w-1"})
    form = next(p for p in conversation(await state(playground, "bob"), "dm:bob")["posts"] if 'data-form-id="win.record"' in p["html"])
    assert 'placeholder="Acme Corp"' in form["html"] and "(optional) (optional)" not in form["html"]
    before = counts(playground.core)
    # A field error keeps the form open with the message next to the field, and stores nothing.
    status, answer = await post(playground, "/playground/api/form", {
        "as": "bob", "post": form["id"], "client_id": "w-2",
        "values": {"customer": "", "summary": "Saved the renewal", "won_on": "2026-11-20", "contributors": ["bob"]},
    })
    assert status == 200 and answer == {"ok": False} and counts(playground.core) == before
    reopened = next(p for p in conversation(await state(playground, "bob"), "dm:bob")["posts"] if p["id"] == form["id"])
    assert 'class="error"' in reopened["html"]
    status, answer = await post(playground, "/playground/api/form", {
        "as": "bob", "post": form["id"], "client_id": "w-3",
        "values": {"customer": "Hooli <Inc>", "summary": "Saved the renewal", "value": None, "won_on": playground.core.clock().date().isoformat(), "contributors": ["bob", "carla"]},
    })
    assert status == 200 and answer == {"ok": True}
    assert counts(playground.core)["Win"] == before["Win"] + 1
    bob = await state(playground, "bob")
    assert not any(p["id"] == form["id"] for p in conversation(bob, "dm:bob")["posts"])  # accepted: the form closes
    channel = conversation(bob, "team:support")["posts"]
    assert any("Hooli &lt;Inc&gt;" in p["html"] and "Give kudos" in p["html"] for p in channel)


def test_demo_restart_keeps_its_data_and_reset_starts_over(tmp_path, monkeypatch):
    from adapters.cli import demo_app

    for name in ("SLACK_BOT_TOKEN", "MICROSOFT_APP_ID", "PULSEBRIDGE_CONFIG", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path}/demo.db"

    def seeded_counts(reset: bool, add_kudos: bool = False) -> dict[str, int]:
        core = demo_app(url, reset=reset)[CORE]
        try:
            if add_kudos:
                with write_unit(core.engine) as s:
                    ana, bob = (s.execute(select(User).where(User.external_id == h)).scalar_one() for h in ("ana", "bob"))
                    from storage.recognition.kudos import insert_kudos

                    insert_kudos(s, giver_id=ana.id, recipient_ids=[bob.id], reason="a new one", values=[], platform="playground", source_key="t:1")
            return counts(core)
        finally:
            core.engine.dispose()

    fresh = seeded_counts(reset=False, add_kudos=True)
    again = seeded_counts(reset=False)
    assert again == fresh  # a restart seeds nothing twice and keeps what people did
    reset = seeded_counts(reset=True)
    assert reset == dict(fresh, Kudos=fresh["Kudos"] - 1)  # the same seeded company, without the added kudos


async def test_a_failing_job_is_reported_to_the_page(playground, monkeypatch):
    async def broken(core, **kwargs):
        raise RuntimeError("template exploded")

    monkeypatch.setitem(playground.core.jobs, "recognition.digest", broken)
    status, answer = await post(playground, "/playground/api/tick", {"job_id": "recognition-digest:support"})
    assert status == 500 and answer["error"] == "recognition.digest failed: see the server log"


async def test_time_travel_opens_the_next_scheduled_pulse_and_an_employee_answers_it(playground):
    ana = await state(playground, "ana")
    shortcut = next(j for j in ana["jobs"] if j["id"] == "demo:pulse:support")
    assert shortcut["label"].startswith("Send support's next pulse now, due Tue ") and "at 10:00 each member's time" in shortcut["label"]
    assert not {j["name"] for j in ana["jobs"]} & {"pulses.tick", "pulses.close", "pulses.open", "pulses.send", "pulses.remind"}
    before = counts(playground.core)
    status, answer = await post(playground, "/playground/api/tick", {"job_id": "demo:pulse:support"})
    assert status == 200 and answer["ran"] == shortcut["label"]
    after = counts(playground.core)
    assert after["Pulse"] == before["Pulse"] + 1 and after["PulseDelivery"] == before["PulseDelivery"] + 6
    # The shortcut now points at the following week.
    later = next(j for j in (await state(playground, "ana"))["jobs"] if j["id"] == "demo:pulse:support")
    assert later["next_run"] > shortcut["next_run"]

    dm = conversation(await state(playground, "bob"), "dm:bob")["posts"]
    assert len(dm) == 1 and "Quick pulse" in dm[0]["html"]
    import re

    action_id, value = re.search(r'data-action-id="(pulse\.answer:\d+:4)" data-value="([^"]+)"', dm[0]["html"]).groups()
    status, _ = await post(playground, "/playground/api/action", {"as": "bob", "post": dm[0]["id"], "action_id": action_id, "value": value, "client_id": "p-1"})
    assert status == 200
    assert counts(playground.core)["PulseAnswer"] == after["PulseAnswer"] + 1
    updated = conversation(await state(playground, "bob"), "dm:bob")["posts"]
    assert len(updated) == 1 and "Your answer" in updated[0]["html"]  # updated in place, like chat.update
    # Carla cannot click a button in Bob's DM: she does not see it.
    status, _ = await post(playground, "/playground/api/action", {"as": "carla", "post": dm[0]["id"], "action_id": action_id, "value": value, "client_id": "p-2"})
    assert status == 400 and counts(playground.core)["PulseAnswer"] == after["PulseAnswer"] + 1


async def test_a_lead_sees_real_team_health_and_goals_from_the_seeded_month(playground):
    await post(playground, "/playground/api/command", {"as": "ana", "text": "/teamhealth", "client_id": "th-1"})
    await post(playground, "/playground/api/command", {"as": "ana", "text": "/goals", "client_id": "th-2"})
    await post(playground, "/playground/api/command", {"as": "bob", "text": "/teamhealth support", "client_id": "th-3"})
    import re

    html = " ".join(p["html"] for p in conversation(await state(playground, "ana"), "dm:ana")["posts"])
    assert "Team health: Customer Support" in html
    # Pulse figures above the anonymity minimum, recognition and customer numbers from the seeded month.
    assert re.search(r"<dt>Engagement</dt><dd>\d+/100", html) and re.search(r"<dt>eNPS</dt><dd>[+-]?\d+", html)
    # CSAT counts the demo's low scores too (criticism named by agent email), not praise only.
    assert re.search(r"\d+ kudos received", html) and re.search(r"CSAT [1-4]\.\d\d/5", html)
    assert "Goals of Customer Support" in html and "Customers notice us" in html
    bob = " ".join(p["html"] for p in conversation(await state(playground, "bob"), "dm:bob")["posts"])
    assert "Team health for Customer Support is only for" in bob and "Engagement" not in bob


async def test_time_travel_posts_the_weekly_team_health_with_goal_progress(playground):
    ids = {j["id"] for j in (await state(playground, "ana"))["jobs"]}
    assert {"teamhealth-weekly:support", "teamhealth-goals-check"} <= ids
    status, _ = await post(playground, "/playground/api/tick", {"job_id": "teamhealth-weekly:support"})
    assert status == 200
    channel = conversation(await state(playground, "bob"), "team:support")["posts"]
    assert any("Customer Support — week" in p["html"] and "Customers notice us" in p["html"] for p in channel)


AWKWARD_INSTANTS = [
    "2027-01-01T00:30+01:00",  # the 1st of a month and year just after midnight in Berlin (still 31 Dec in UTC)
    "2026-12-31T23:30-05:00",  # 31 Dec in New York, already the 1st in UTC
    "2027-03-28T01:30Z",  # Europe's spring DST change
    "2026-11-01T06:30Z",  # the US autumn DST change
    "2028-02-29T12:00Z",  # a leap day
]


@pytest.mark.parametrize("instant", AWKWARD_INSTANTS)
async def test_the_demo_first_screen_has_data_whatever_the_date(database_url, fake_slack, instant):
    """The demo's history is laid out from its clock, and /teamhealth defaults to a month with data."""
    import re
    from datetime import datetime

    import time_machine

    with time_machine.travel(datetime.fromisoformat(instant), tick=True):
        runner, app, url = await start_playground(make_settings(database_url, fake_slack.url, PULSEBRIDGE_SECRET_KEY=PULSE_KEY))
        try:
            async with aiohttp.ClientSession(base_url=url) as http:
                for who, n in (("ana", 1), ("olga", 2)):
                    await post(http, "/playground/api/command", {"as": who, "text": "/teamhealth", "client_id": f"th-{n}"})
                    await post(http, "/playground/api/command", {"as": who, "text": "/goals", "client_id": f"g-{n}"})
                    html = " ".join(p["html"] for p in conversation(await state(http, who), f"dm:{who}")["posts"])
                    assert "no closed pulse in this period" not in html and "not enough responses" not in html
                    assert re.search(r"<dt>Engagement</dt><dd>\d+/100", html) and re.search(r"<dt>eNPS</dt><dd>[+-]?\d+", html)
                    assert re.search(r"<dt>Participation</dt><dd>\d+%", html)
                    known = int(re.search(r"\((\d+) of 12 weeks with enough responses\)", html).group(1))
                    assert known >= 11  # every closed week of the last 12; only the current one may still be open
                    assert re.search(r"[1-9]\d* kudos received", html) and "no feedback" not in html
                    # 18 weeks of pulses and of customer feedback (criticism too): the EX↔CX line is drawn.
                    assert re.search(r"EX↔CX: \w+ (positive|negative) link, r = [+-]\d\.\d\d", html), html[-600:]
                    if who == "ana":
                        assert "CSAT –" not in html
                        # The month's customer goal counts the feedback that came in minutes ago, even on the 1st.
                        assert "Customers notice us: ░░░░░░░░░░ 0%" not in html and "Customers notice us:" in html
        finally:
            await runner.cleanup()
            app[CORE].engine.dispose()


async def test_praise_that_names_nobody_waits_in_the_triage_channel_and_a_triager_routes_it(playground):
    ana = await state(playground, "ana")
    triage = conversation(ana, "triage:cx")
    assert triage["title"] == "#cx-triage" and triage["mine"] and triage["posts"] == []
    assert not conversation(await state(playground, "bob"), "triage:cx")["mine"]  # Bob is no triager
    status, answer = await post(playground, "/playground/api/sample-feedback", {"as": "bob", "triage": True})
    assert status == 200 and answer["webhook"]["relay"] == "triage", answer
    [waiting] = conversation(await state(playground, "ana"), "triage:cx")["posts"]
    assert "could not attribute to anyone" in waiting["html"] and "2 a.m." in waiting["html"]
    action_id = re.search(r'data-action-id="(feedback\.route:\d+)"', waiting["html"]).group(1)

    # Bob is not a triager: his pick changes nothing. Ana's pick relays the praise to Carla.
    await post(playground, "/playground/api/action", {"as": "bob", "post": waiting["id"], "action_id": action_id, "value": "carla", "client_id": "t-1"})
    assert not any("2 a.m." in p["html"] for p in conversation(await state(playground, "carla"), "dm:carla")["posts"])
    status, _ = await post(playground, "/playground/api/action", {"as": "ana", "post": waiting["id"], "action_id": action_id, "value": "carla", "client_id": "t-2"})
    assert status == 200
    carla = conversation(await state(playground, "carla"), "dm:carla")["posts"]
    assert any("2 a.m." in p["html"] for p in carla)
    routed = next(p for p in conversation(await state(playground, "ana"), "triage:cx")["posts"] if p["id"] == waiting["id"])
    assert "sent to" in routed["html"] and "Carla" in routed["html"]  # the triage post itself now says who got it


async def test_the_goal_form_picks_teams_from_a_list(playground):
    await post(playground, "/playground/api/command", {"as": "ana", "text": "/goals new", "client_id": "gp-1"})
    form = next(p for p in conversation(await state(playground, "ana"), "dm:ana")["posts"] if "New team goal" in p["html"])
    picker = re.search(r'<select id="f-teams"[^>]*>(.*?)</select>', form["html"], re.S)
    assert picker and "multiple" in picker.group(0) and 'data-multi="1"' in picker.group(0)
    assert re.findall(r'<option value="([^"]+)" selected>', picker.group(1)) == ["support"]  # Ana leads support
    before = counts(playground.core)["Goal"]
    status, answer = await post(playground, "/playground/api/form", {
        "as": "ana", "post": form["id"], "client_id": "gp-2",
        "values": {"title": "Thank each other", "metric": "kudos_given", "target": "20", "period": "month", "due": "", "teams": ["support"]},
    })
    assert status == 200 and answer == {"ok": True}
    assert counts(playground.core)["Goal"] == before + 1
