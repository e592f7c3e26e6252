"""The kudos form and win references show only wins the asker may see (their own, or posted to a team they are on)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.kernel.db import session
from storage.recognition.tables import Win
from storage.recognition.tables import Kudos
from tests.recognition_support import NOW, count, slack_texts, win_state


@pytest.fixture
async def srv(server):
    server.core.clock = lambda: NOW
    # Ana records a Support win with Bob: it is posted to #support only.
    await server.slack_interaction(server.view_submission("win.record", win_state(customer="Acme Corp", contributors=("U0BOB",))))
    await server.slack.wait_for("chat.postMessage", 3)
    return server


def win_options(view) -> list[str]:
    block = next((b for b in view["blocks"] if b.get("block_id") == "win"), None)
    return [o["text"]["text"] for o in block["element"]["options"]] if block else []


async def open_form(srv, user_id: str, n: int):
    await srv.slack_command("/kudos", "", user_id=user_id)
    return (await srv.slack.wait_for_form("kudos.give", n))[-1]


async def test_the_form_lists_a_win_to_its_team_and_not_to_another_team(srv):
    with session(srv.engine) as s:
        win = s.execute(select(Win)).scalar_one()
    assert win_options(await open_form(srv, "U0CARLA", 1)) == [f"W-{win.id} · Acme Corp"]  # Support, not a contributor
    assert win_options(await open_form(srv, "U0ANA", 2)) == [f"W-{win.id} · Acme Corp"]  # recorded it
    erin = await open_form(srv, "U0ERIN", 3)  # Platform
    assert win_options(erin) == [] and "Acme" not in str(erin)


async def test_a_forged_give_kudos_click_for_another_teams_win_reveals_nothing(srv):
    with session(srv.engine) as s:
        win = s.execute(select(Win)).scalar_one()
    status, _ = await srv.slack_interaction(srv.block_actions("kudos.win", str(win.id), user_id="U0ERIN", channel="C0PLATFORM"))
    assert status == 200
    answer = (await srv.slack.wait_for("response_url"))[-1]
    assert f"There is no customer win {win.id}" in str(answer.params) and "Acme" not in str(answer.params)
    # A win that does not exist gets the very same answer, so labels cannot be probed.
    await srv.slack_interaction(srv.block_actions("kudos.win", "999", user_id="U0ERIN", channel="C0PLATFORM"))
    missing = (await srv.slack.wait_for("response_url", 2))[-1]
    assert answer.params["text"].replace(str(win.id), "N") == missing.params["text"].replace("999", "N")
    assert srv.slack.calls_to("views.open") == []


async def test_a_kudos_naming_another_teams_win_is_refused_and_stores_nothing(srv):
    with session(srv.engine) as s:
        win = s.execute(select(Win)).scalar_one()
    posts = len(srv.slack.calls_to("chat.postMessage"))
    await srv.slack_command("/kudos", f"<@U0DAN|dan> for the help win:W-{win.id}", user_id="U0ERIN")
    answer = (await srv.slack.wait_for("response_url"))[-1]
    assert f"There is no customer win W-{win.id}" in slack_texts(answer) or f"There is no customer win W-{win.id}" in str(answer.params)
    assert count(srv.engine, Kudos) == 0 and len(srv.slack.calls_to("chat.postMessage")) == posts
    # Someone on the win's team may.
    await srv.slack_command("/kudos", f"<@U0BOB|bob> for the save win:W-{win.id}", user_id="U0CARLA")
    calls = await srv.slack.wait_for("chat.postMessage", posts + 1)
    assert count(srv.engine, Kudos) == 1 and any("Acme Corp" in slack_texts(c) for c in calls[posts:])
