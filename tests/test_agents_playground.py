"""Microsoft's own Teams client emulator, the Microsoft 365 Agents Playground, against `pulsebridge run`.

The Playground (npm @microsoft/m365agentsplayground, installed by .ci/run into tests/agents_playground)
runs offline: it builds Teams-shaped activities, POSTs them to our /api/messages without a JWT (so
the bot runs in PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE, loopback only), and is the Bot Framework
connector the bot answers through (its serviceUrl, /_connector). We drive it through the HTTP API its
own web client uses (POST /_conversation/v1/conversations/{id}/messages and /v1/submit) and read
what the bot sent from its conversation stream (WebSocket /_ws_conversation/v1/conversations/stream),
one flow per feature: kudos, win, pulse answer, feedback triage, teamhealth.

Without Node or the installed package the test skips locally; in CI (CI=true) that is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.feedback_support import generic, signed_headers

HERE = Path(__file__).resolve().parent / "agents_playground"
CLI = HERE / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
NODE = shutil.which("node")
WEBHOOK_SECRET = "playground-webhook-secret-0123456789"

# The Playground's default tenant: Alex Wilber (user-id-0) is "you"; users 1-5 share a team
# ("team-id" is its General channel) and a group chat.
ORG = """
values: [craft]
admins: [alexw@example.com]
teams:
  support:
    name: Customer Support
    teams_channel: team-id
    timezone: UTC
    leads: [alexw@example.com, meganb@example.com]
    members: [alexw@example.com, meganb@example.com, adelev@example.com, isaiahl@example.com, pattif@example.com, lynner@example.com]
feedback:
  triage_channels:
    teams: channel-announcements-id
"""

pytestmark = pytest.mark.real_clock("the Playground and the bot are separate processes on the real clock")


def _require_playground() -> None:
    if NODE and CLI.is_file():
        return
    reason = "Microsoft 365 Agents Playground not installed (cd tests/agents_playground && npm ci)"
    if os.environ.get("CI"):
        pytest.fail(reason + ": CI must run the Playground test")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, what: str, timeout: float = 60.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"{what} exited: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.2)
    pytest.fail(f"{what} did not come up at {url}")


class Playground:
    """The Playground's conversation API, and everything the bot sent as the Playground saw it."""

    def __init__(self, url: str, bot_url: str):
        self.url = url
        self.bot_url = bot_url
        self.events: list[dict[str, Any]] = []
        self.config: dict[str, Any] = {}

    async def __aenter__(self):
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(self.url.replace("http", "ws") + "/_ws_conversation/v1/conversations/stream")
        self.reader = asyncio.create_task(self._read())
        self.log_ws = await self.http.ws_connect(self.url.replace("http", "ws") + "/_ws/log/stream")
        self.log_reader = asyncio.create_task(self._read_log())
        async with self.http.get(self.url + "/_internal/v1/config") as resp:
            self.config = (await resp.json())["config"]
        return self

    async def __aexit__(self, *exc):
        self.reader.cancel()
        self.log_reader.cancel()
        await self.ws.close()
        await self.log_ws.close()
        await self.http.close()

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.events.append(json.loads(msg.data))

    async def _read_log(self) -> None:
        """The Playground's own log panel: its warnings about what real Teams would not accept."""
        self.log: list[dict[str, Any]] = []
        async for msg in self.log_ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.log.append(json.loads(msg.data))

    async def wait_for_logged(self, predicate, timeout: float = 20.0) -> dict[str, Any]:
        """A bot message in a chat the Playground's client does not show (a 1:1 chat the bot opened
        with someone else), from the Playground's request log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in getattr(self, "log", []):
                log = entry.get("log") or {}
                body = ((log.get("request") or {}).get("body")) or {}
                if log.get("activityName") == "message" and log.get("from") == "User Application" and predicate(body):
                    return {**body, "conversation": log.get("conversationId"), "messageId": log.get("messageId"), "_log": log}
            await asyncio.sleep(0.05)
        raise AssertionError("no such message in the Playground's log")

    @property
    def personal(self) -> str:
        return self.config["personalChat"]["id"]

    def user(self, name: str) -> str:
        people = [self.config["currentUser"], *self.config["users"]]
        return next(u["id"] for u in people if u["name"] == name)

    async def say(self, conversation: str, text: str, *, sender: str = "user-id-0", mentions: list[tuple[str, str]] = ()) -> str:
        """A message as typed in the Playground; in a channel, as in Teams, it reaches the bot only
        when it @mentions the bot (a leading "@bot" becomes that mention)."""
        bot = self.config["bot"]
        if text.startswith("@bot "):
            text = f"<at>{bot['name']}</at> " + text.removeprefix("@bot ")
            mentions = [(bot["id"], bot["name"]), *mentions]
        body: dict[str, Any] = {"from": {"id": sender}, "text": text, "textFormat": "plain"}
        if mentions:
            body["mentions"] = [{"mentioned": {"id": uid}, "text": f"<at>{name}</at>"} for uid, name in mentions]
        async with self.http.post(f"{self.url}/_conversation/v1/conversations/{conversation}/messages", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return (await resp.json())["messageId"]

    async def submit(self, conversation: str, reply_to: str, value: dict[str, Any], *, sender: str = "user-id-0", check: bool = True) -> int:
        body = {"conversation": {"id": conversation}, "from": {"id": sender}, "replyToId": reply_to, "value": value}
        async with self.http.post(f"{self.url}/_conversation/v1/submit", json=body) as resp:
            assert resp.status == 200 or not check, await resp.text()
            return resp.status

    async def submit_as_member(self, conversation: str, reply_to: str, value: dict[str, Any]) -> str:
        """Click in a 1:1 chat the bot opened: as whoever the Playground says is in it."""
        for user in self.config["users"]:
            if await self.submit(conversation, reply_to, value, sender=user["id"], check=False) == 200:
                return user["id"]
        raise AssertionError(f"nobody may click in {conversation}")

    def messages(self, conversation: str | None = None) -> list[dict[str, Any]]:
        """The bot's messages (created or updated), as the Playground's client receives them."""
        bot = self.config["bot"]["id"]
        out = []
        for event in self.events:
            message = event.get("message") or {}
            if (message.get("from") or {}).get("id") != bot:
                continue
            if conversation is None or event.get("actionConversationId", "").split(";")[0] == conversation:
                out.append({**message, "action": event.get("action"), "conversation": event.get("actionConversationId")})
        return out

    async def wait_for(self, predicate, *, conversation: str | None = None, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages(conversation):
                if predicate(message):
                    return message
            await asyncio.sleep(0.05)
        seen = "\n".join(f"{m['action']} {m['conversation']}: {text_of(m)[:200]}" for m in self.messages())
        seen += "\nAll events:\n" + "\n".join(f"{e.get('action')} {e.get('actionConversationId')} from={((e.get('message') or {}).get('from') or {}).get('id')}" for e in self.events[-12:])
        seen += "\nPlayground log:\n" + "\n".join(json.dumps(e)[:400] for e in getattr(self, "log", [])[-15:])
        raise AssertionError(f"the Playground never showed the expected message in {conversation}; it showed:\n{seen}")


def cards_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["content"] for a in message.get("attachments") or [] if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]


def text_of(message: dict[str, Any]) -> str:
    out = [message.get("text") or ""]

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") in ("TextBlock", "TextRun"):
                out.append(node.get("text", ""))
            if "title" in node and isinstance(node.get("title"), str):
                out.append(node["title"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for card in cards_of(message):
        walk(card)
    return "\n".join(out)


def has(*words: str):
    return lambda m: all(w in text_of(m) for w in words)


def submit_data(message: dict[str, Any], title: str | None = None) -> dict[str, Any]:
    actions = []
    for card in cards_of(message):
        actions += card.get("actions", [])
        for item in card["body"]:
            if item.get("type") == "ActionSet":
                actions += item["actions"]
    return next(a["data"] for a in actions if title is None or a["title"] == title)


@pytest.fixture
def bot_and_playground(tmp_path):
    _require_playground()
    bot_port, pg_port = free_port(), free_port()
    (tmp_path / "org.yaml").write_text(ORG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "PULSEBRIDGE_", "DATABASE_URL", "FEEDBACK_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/pb.db",
        PULSEBRIDGE_CONFIG=str(tmp_path / "org.yaml"),
        PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE="true",
        PULSEBRIDGE_TEAMS_SERVICE_HOSTS=f"127.0.0.1:{pg_port}",
        PULSEBRIDGE_METRICS_LISTEN="off",
        PULSEBRIDGE_SCHEDULER="false",
        FEEDBACK_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PULSEBRIDGE_SECRET_KEY="playground-test-key-0123456789abcdef",
    )
    bot = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "run", "--migrate", "--host", "127.0.0.1", "--port", str(bot_port)],
        cwd=Path(__file__).resolve().parents[1], env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "bot.log", "w"), text=True,
    )
    bot_url = f"http://127.0.0.1:{bot_port}"
    playground = None
    try:
        _wait_http(bot_url + "/healthz", bot, "pulsebridge run")
        pg_env = {**os.environ, "TEAMSAPPTESTER_BROWSER": "none", "TEAMSAPPTESTER_LOGFILE": str(tmp_path / "playground.log")}
        playground = subprocess.Popen(
            [NODE, str(CLI), "-e", f"{bot_url}/api/messages", "-c", "msteams", "-p", str(pg_port),
             "--service-url", f"http://127.0.0.1:{pg_port}/_connector", "--disable-telemetry"],
            cwd=tmp_path, env=pg_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )
        _wait_http(f"http://127.0.0.1:{pg_port}/_internal/v1/config", playground, "the Agents Playground")
        yield f"http://127.0.0.1:{pg_port}", bot_url, tmp_path
    finally:
        for proc in (playground, bot):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


async def test_every_feature_through_the_agents_playground(bot_and_playground):
    pg_url, bot_url, tmp_path = bot_and_playground
    async with Playground(pg_url, bot_url) as pg:
        megan = pg.user("Megan Bowen")
        general = next(c for t in pg.config["teams"] for c in t["channels"] if c["name"] == "General")["id"]

        # Everyone says hello once, the way the bot learns who is who before any directory sync.
        await pg.say(pg.personal, "help")
        await pg.wait_for(has("Here is what I can do"), conversation=pg.personal)
        await pg.say(general, "@bot help", sender=megan)

        # -- kudos: in the team channel, mentioning Megan -----------------------------------------
        await pg.say(general, "@bot kudos <at>Megan Bowen</at> for the calm incident call #craft", mentions=[(megan, "Megan Bowen")])
        await pg.wait_for(has("Kudos sent"), conversation=general)
        await pg.wait_for(has("recognised", "the calm incident call"), conversation=general)  # the channel post
        assert count(tmp_path, "kudos") == 1

        # -- win: the form, submitted --------------------------------------------------------------
        await pg.say(pg.personal, "win")
        form = await pg.wait_for(has("Record a customer win"), conversation=pg.personal)
        await pg.submit(pg.personal, form["messageId"], {
            **submit_data(form), "customer": "Globex", "summary": "Renewal saved after the outage",
            "won_on": "2026-11-18", "contributors": megan,
        })
        await pg.wait_for(has("Globex"), conversation=general)
        assert count(tmp_path, "wins") == 1

        # -- pulse: Alex (a lead) sends an ad-hoc pulse; Megan answers in the 1:1 chat the bot opened -
        await pg.say(pg.personal, "pulse send")
        form = await pg.wait_for(has("hoc pulse", "Answers are anonymous"), conversation=pg.personal)
        await pg.submit(pg.personal, form["messageId"], {**submit_data(form), "team": "support", "question": "wellbeing-1", "close": "4"})
        await pg.wait_for(has("Sending your pulse to 5 people"), conversation=pg.personal)
        question = await pg.wait_for_logged(lambda a: any(d.get("action_id", "").startswith("pulse.answer:") for d in _all_data(a)))
        answer = next(d for d in _all_data(question) if d.get("action_id", "").startswith("pulse.answer:"))
        await pg.submit_as_member(question["conversation"], question["messageId"], answer)
        await until(lambda: count(tmp_path, "pulse_answers") == 1)

        # -- feedback triage: praise nobody could attribute, routed from the triage channel --------
        body = json.dumps(generic("Whoever helped me yesterday was brilliant!", id="pg-1", customer={"name": "Helena"})).encode()
        async with aiohttp.ClientSession() as http:
            async with http.post(bot_url + "/webhooks/feedback", data=body, headers=signed_headers(body, secret=WEBHOOK_SECRET)) as resp:
                assert resp.status == 201, await resp.text()
        triage = await pg.wait_for(has("Who earned it?"), conversation="channel-announcements-id")
        data = submit_data(triage)
        # A channel root post is its own thread in the Playground (postConversationId), as in Teams.
        await pg.submit(triage.get("postConversationId") or triage["conversation"], triage["messageId"], {**data, data["user_picker"]: megan})
        await pg.wait_for(lambda m: m["action"] != "createMessage" and has("sent to")(m), conversation="channel-announcements-id")
        assert count(tmp_path, "feedback", "WHERE status = 'relayed'") == 1

        # -- teamhealth: the lead's view -----------------------------------------------------------
        await pg.say(pg.personal, "teamhealth")
        await pg.wait_for(has("Customer Support"), conversation=pg.personal)

        # Nothing the Playground showed came from a failure.
        assert not [m for m in pg.messages() if "Sorry, something went wrong" in text_of(m)]
    log = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in log, log[-3000:]


def count(tmp_path: Path, table: str, where: str = "") -> int:
    """Rows in the bot's own database (SQLite, read-only): what was stored, not only what was shown."""
    import sqlite3

    with sqlite3.connect(f"file:{tmp_path / 'pb.db'}?mode=ro", uri=True) as db:
        return db.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0]


async def until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def _all_data(message: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for card in cards_of(message):
        for action in card.get("actions", []):
            out.append(action.get("data") or {})
        for item in card["body"]:
            for action in item.get("actions", []) if item.get("type") == "ActionSet" else []:
                out.append(action.get("data") or {})
    return out
