"""/kudos on Slack, end to end: signed requests in, calls to the fake Slack Web API out."""

from __future__ import annotations


from sqlalchemy import func, select

from storage.kernel.db import session
from storage.directory.tables import User
from storage.kernel.tables import OutboxMessage
from storage.recognition.tables import Kudos, KudosRecipient, KudosValue
from tests.conftest import handled


def count(engine, table) -> int:
    with session(engine) as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def texts(call) -> str:
    """Everything a chat.postMessage call would show: fallback text plus each block's text."""
    out = [call.params.get("text", "")]
    for block in call.params.get("blocks") or []:
        if "text" in block:
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            out.append(element.get("text", "") if isinstance(element.get("text"), str) else "")
    return "\n".join(out)


async def test_kudos_stores_dms_recipients_posts_to_team_channel_and_confirms(server):
    status, _ = await server.slack_command("/kudos", "<@U0BOB|bob> <@U0DAN|dan> for rescuing the Acme renewal #customer-first")
    assert status == 200

    confirmation = (await server.slack.wait_for("response_url"))[0]
    assert confirmation.params["response_type"] == "ephemeral"
    assert "Kudos sent to <@U0BOB> and <@U0DAN>" in texts(confirmation)

    posts = await server.slack.wait_for("chat.postMessage", 4)
    await handled(server)
    posts = server.slack.calls_to("chat.postMessage")
    by_channel = {p.params["channel"]: p for p in posts}
    assert set(by_channel) == {"U0BOB", "U0DAN", "C0SUPPORT", "C0PLATFORM"}
    assert len(posts) == 4
    assert "<@U0ANA> gave you kudos" in texts(by_channel["U0BOB"])
    assert "rescuing the Acme renewal" in texts(by_channel["U0BOB"])
    celebration = texts(by_channel["C0SUPPORT"])
    assert "<@U0ANA> recognised <@U0BOB> and <@U0DAN>" in celebration
    assert "#customer-first" in celebration
    for post in posts:
        assert all(b.get("text", {}).get("verbatim", True) for b in post.params["blocks"])
        assert post.params["unfurl_links"] is False

    with session(server.engine) as s:
        kudos = s.execute(select(Kudos)).scalar_one()
        assert kudos.reason == "rescuing the Acme renewal"
        assert kudos.platform == "slack"
        giver = s.get(User, kudos.giver_id)
        assert (giver.external_id, giver.email, giver.timezone) == ("U0ANA", "ana@example.com", "Europe/Berlin")
        recipients = s.execute(select(User.external_id).join(KudosRecipient, KudosRecipient.user_id == User.id)).scalars().all()
        assert sorted(recipients) == ["U0BOB", "U0DAN"]
        assert s.execute(select(KudosValue.value)).scalars().all() == ["customer-first"]
        assert s.execute(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")).scalar_one() == 4


async def test_the_bot_reuses_its_connections_to_slack_instead_of_opening_one_per_call(server):
    # slack_sdk opens a new connection (against slack.com a new TLS handshake) per call unless given a
    # session; the server lends its clients one pool, kept alive between calls.
    for name in ("bob", "dan", "erin"):
        status, _ = await server.slack_command("/kudos", f"<@U0{name.upper()}|{name}> for the calm release night")
        assert status == 200
        await handled(server)
    posts = server.slack.calls_to("chat.postMessage")
    assert len(posts) >= 6  # a DM and a channel post per kudos
    assert len({call.peer for call in posts}) <= 2, sorted({call.peer for call in posts})
