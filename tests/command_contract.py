"""The contract every chat command keeps on Slack, Teams and the playground (cf. zulip_bots' DefaultTests).

How a new command is covered: register it (``core.command(name, summary, usage, handler)`` in its
feature's ``register()``, the feature listed in ``bot/app.py``) and declare it in ``manifest.yml``
and ``adapters/teams/package.py`` (the help-text test fails until you do). Nothing is added here:
the cases are generated from what a core built by the composition root registers (commands, button
actions, forms), and the usage line's examples (``Usage: /goals · /goals new · /goals edit G-<n>``)
become cases of their own, so keep it accurate. ``CommandContract`` is the mixin that holds the
tests; ``tests/test_command_contract.py`` runs it; the fixtures at the end of this file give one app per
database for the whole module, serving all three surfaces, the actor being a team lead (``ACTOR_EMAIL``). For a command registered
some other way (a test double, a plugin), subclass ``CommandContract`` in your own module, override
``register_extra(core)`` (and ``TARGETS`` to pick surfaces), and import the fixtures:
``from tests.command_contract import CommandContract, contract_servers, surface  # noqa: F401``;
the ``surface`` fixture applies every contract class's ``register_extra`` to the live core.

What every command must do, on every surface, for the inputs empty, ``help``, garbage (random
words, unicode, 5,000 characters, control characters, markup and mention injection, SQL and flags,
huge and superscript numbers, the examples with 5,000-character free text) and its usage examples:

- have help text: a summary and a usage line naming ``/<name>``, shown for ``<name> help``, and be
  declared in the Slack manifest and the Teams app package;
- be reached: the adapter routes it to its handler (never the bot's generic list of commands);
- answer exactly once: one message, one form, or a form plus one line of explanation (counted in
  what the fakes recorded for the actor), with the HTTP status the platform expects;
- answer garbage with its usage or a clear error (never a traceback, never "something went wrong",
  never the whole input repeated), never echo markup as a live ping, and store nothing for empty,
  ``help`` and garbage (row counts of every table, the directory included, before and after);
- never raise: nothing logged at ERROR.

Buttons and forms: every registered action id (and an unknown one) clicked with empty, stale, too
big and garbage values, and every registered form (and an unknown one) submitted with missing and
garbage values, answers once with a clear message and stores nothing. The playground can only submit
forms it has shown, so forms no command input opens are checked on Slack and Teams only.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import re
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio
import yaml
from sqlalchemy import create_engine, func, inspect, select, table

from bot.app import parse_org_config
from bot.directory.lookup import store_profile
from bot.kernel.events import Profile
from storage.kernel.db import session, write_unit
from storage.kernel.migrate import upgrade
from tests.conftest import ORG_YAML, POSTGRES_ENV, handled, make_settings, start_server, throwaway_schema
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackAPI

MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"
ACTOR_EMAIL = "ana@example.com"  # a lead of `support` in ORG_YAML: leads reach the most code (send forms, goal forms)

# -- the inputs -----------------------------------------------------------------------------------

LONG = " ".join(f"w{i % 97}ord" for i in range(1000))[:5000]
GARBAGE: dict[str, str] = {
    "words": "flibber quux zorp wibble",
    "unicode": "ünïcödé 🦄 ½ 中文 עברית \u200b\u202eevil\u202c ﷽",
    "one-5000-char-word": "x" * 5000,
    "control-chars": "a\x00b\x01c\x07d\x1b[31m e\r\nf\tg\x7fh\u0085",
    "injection": "<!channel> <!here> @everyone @here <at>x</at> <script>alert(1)</script> [x](https://evil.example) *b* `c` &amp; &lt;",
    "sql-and-flags": "'; DROP TABLE users; -- --private --help -h win:W-1 #craft",
    "huge-numbers": "99999999999999999999 -1 1e309 NaN G-99999999999999999999 W-99999999999999999999",
}
HUGE = "99999999999999999999"
NOT_A_COMMAND = "Here is what I can do"  # PulseBridge.help_message: what an adapter answers to words it does not route
FILLER = "testing the contract"  # what a <placeholder> in a usage line becomes
FAILURE_WORDS = ("traceback", "something went wrong", 'file "', "internal server error", "exception", "keyerror", "typeerror", "valueerror")
SLACK_PINGS = re.compile(r"<!(?:channel|here|everyone)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Case:
    kind: str  # empty | help | garbage | example
    label: str
    text: str  # "@name" stands for a mention of a colleague, rendered per surface

    @property
    def stores_nothing(self) -> bool:
        return self.kind != "example"


def usage_examples(spec) -> list[str]:
    """Invocations read from a usage line such as ``Usage: /goals · /goals new · /goals edit G-<n>``.

    Segments are split on " · " (or ", /"); notes in parentheses go; each segment is taken once without
    its [optional] parts and once with them (first of a|b alternatives); <n> becomes 1, any other
    <placeholder> a few words, and a mention stays ``@name``. A variant with every number made huge
    goes with the garbage.
    """
    text = re.sub(r"^\s*usage:\s*", "", spec.usage, flags=re.IGNORECASE)
    out: list[str] = []
    for segment in re.split(r"\s+·\s+|,\s+(?=/)|;\s+(?=/)", text):
        segment = re.sub(r"\([^)]*\)", "", segment).strip()
        if not re.match(rf"/{re.escape(spec.name)}\b", segment):
            continue
        args = segment[len(spec.name) + 1 :]
        for variant in (re.sub(r"\[[^\]]*\]", "", args), re.sub(r"\[([^\]]*)\]", r"\1", args)):
            variant = variant.replace("…", "")
            variant = re.sub(r"(\S+?)\|\S+", r"\1", variant)
            variant = re.sub(r"<(?:n|number|id)>", "1", variant)
            variant = re.sub(r"<[^>]*>", FILLER, variant)
            variant = re.sub(r"@\w+", "@name", variant)
            variant = " ".join(variant.split())
            if variant not in out:
                out.append(variant)
    return out


def cases_for(spec) -> list[Case]:
    cases = [Case("empty", "empty", ""), Case("help", "help", "help")]
    cases += [Case("garbage", label, text) for label, text in GARBAGE.items()]
    examples = [ex for ex in usage_examples(spec) if ex]  # the bare command is the "empty" case already
    cases += [Case("example", f"example:{ex}"[:60], ex) for ex in examples]
    # The examples with their free text 5,000 characters long (a reason, a title): too long, stored nowhere.
    cases += [Case("garbage", f"long:{ex}"[:60], ex.replace(FILLER, LONG)) for ex in examples if FILLER in ex]
    # …and with markup as their free text: a real example (it may store), whose every message stays inert.
    cases += [Case("example", f"injected:{ex}"[:60], ex.replace(FILLER, GARBAGE["injection"])) for ex in examples if FILLER in ex]
    numbered = [ex for ex in examples if re.search(r"\d", ex)]
    # Numbers too big for any id column, and digits that str.isdigit() accepts but int() does not.
    cases += [Case("garbage", f"huge:{ex}"[:60], re.sub(r"\d+", HUGE, ex)) for ex in numbered]
    cases += [Case("garbage", f"superscript:{ex}"[:60], re.sub(r"\d+", "²", ex)) for ex in numbered]
    return cases


# -- what the commands are ------------------------------------------------------------------------


def composed_core(org_yaml: str = ORG_YAML):
    """A core built by the composition root, for collection: registering touches no table."""
    from bot.app import build_core

    return build_core(create_engine("sqlite://"), parse_org_config(org_yaml))


def slack_manifest_commands() -> dict[str, dict[str, Any]]:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return {c["command"].lstrip("/"): c for c in manifest["features"]["slash_commands"]}


def teams_package_commands() -> dict[str, str]:
    from adapters.teams.package import manifest

    built = manifest("00000000-0000-0000-0000-000000000000", version="1.0.0", website="https://example.com")
    return {c["title"]: c["description"] for lst in built["bots"][0]["commandLists"] for c in lst["commands"]}


# -- answers --------------------------------------------------------------------------------------


@dataclass
class FormSeen:
    form_id: str
    metadata: str
    fields: dict[str, str]  # field id -> kind: text | select | user | users | date


@dataclass
class Answer:
    status: int
    messages: list[str] = field(default_factory=list)  # what the actor reads, one entry per message
    forms: list[FormSeen] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)  # the clicked message replaced (text)
    raw: list[str] = field(default_factory=list)  # the payloads as sent, for markup checks
    body: str = ""

    @property
    def count(self) -> int:
        return len(self.messages) + len(self.forms) + len(self.updates)

    @property
    def text(self) -> str:
        return "\n".join(self.messages + self.updates)


def _walk_text(node: Any, out: list[str], keys=("text",)) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and isinstance(value, str):
                out.append(value)
            else:
                _walk_text(value, out, keys)
    elif isinstance(node, list):
        for item in node:
            _walk_text(item, out, keys)


def _slack_text(params: dict[str, Any]) -> str:
    out: list[str] = []
    _walk_text(params.get("blocks") or [], out)
    text = "\n".join(out) or str(params.get("text") or "")
    return html.unescape(text)


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.01)


# -- surfaces -------------------------------------------------------------------------------------


class Surface:
    """One platform as its users reach it. `command`, `action` and `form` return the Answer the actor got."""

    name = ""
    ok_statuses: tuple[int, ...] = (200,)
    actor_id = ""

    def __init__(self, server):
        self.server = server
        self.forms_seen: dict[str, FormSeen] = {}
        self.openers: dict[str, str] = {}  # form id -> "name text" of a command that opened it

    def mention(self) -> str:  # pragma: no cover - per surface
        raise NotImplementedError

    async def warm_up(self) -> "Surface":
        """Before the cases: the actor runs every command's empty input and usage examples (those not naming
        a colleague) once. The bot meets the actor (Teams and the directory store them on first contact,
        which must not count as "stored" for a case) and the forms those inputs open are remembered."""
        for spec in self.server.core.commands.values():
            for case in cases_for(spec):
                if case.kind in ("empty", "example") and "@name" not in case.text:
                    await self.command(spec.name, case.text)
        return self

    def remember(self, answer: Answer, opener: str) -> Answer:
        for form in answer.forms:
            self.forms_seen.setdefault(form.form_id, form)
            self.openers.setdefault(form.form_id, opener)
        return answer

    # Markup that would ping, link or run in an answer as this platform reads it.
    live_markup: re.Pattern | None = None

    def mark(self) -> Any:
        """Where the record of everything sent stands now (see `sent_since`)."""
        return None

    async def sent_since(self, mark: Any) -> list[str]:  # pragma: no cover - per surface
        """Every message the bot sent anyone since `mark` (answers, DMs, channel posts), as sent."""
        raise NotImplementedError

    def assert_inert(self, raws: list[str]) -> None:
        """Markup the actor typed never comes back as a ping, a link or a script."""
        for raw in raws:
            found = self.live_markup.search(raw) if self.live_markup else None
            assert found is None, f"{self.name}: an answer carries live markup: {found.group(0)!r} in {raw[max(0, found.start() - 100):found.end() + 100]!r}"


class SlackSurface(Surface):
    name = "slack"
    actor_id = "U0ANA"
    live_markup = SLACK_PINGS

    def mark(self) -> Any:
        return len(self.server.slack.calls)

    async def sent_since(self, mark: Any) -> list[str]:
        sending = ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url", "views.open")
        return [json.dumps(c.params, ensure_ascii=False) for c in self.server.slack.calls[mark:] if c.method in sending]

    def mention(self) -> str:
        return "<@U0BOB|bob>"

    def _collect(self, since: int, *, token: str, trigger: str | None, channel_ts: tuple[str, str] | None = None) -> Answer:
        answer = Answer(0)
        for call in self.server.slack.calls[since:]:
            p = call.params
            if call.method == "response_url" and p.get("_token") == token:
                (answer.updates if p.get("replace_original") in (True, "true") else answer.messages).append(_slack_text(p))
                answer.raw.append(json.dumps(p, ensure_ascii=False))
            elif call.method == "views.open" and trigger and p.get("trigger_id") == trigger:
                view = p.get("view") or {}
                answer.forms.append(_slack_form(view))
            elif call.method == "chat.postMessage" and p.get("channel") == self.actor_id:
                answer.messages.append(_slack_text(p))
                answer.raw.append(json.dumps(p, ensure_ascii=False))
            elif call.method == "chat.update" and channel_ts and (p.get("channel"), p.get("ts")) == channel_ts:
                answer.updates.append(_slack_text(p))
                answer.raw.append(json.dumps(p, ensure_ascii=False))
        return answer

    async def _settle(self, since: int, collect, status: int) -> Answer:
        # Tracked handlers enter the core's in-flight count before the ack goes out; the help answers are
        # not tracked, so wait for the first answer too (unless the request itself failed).
        if status == 200:
            await _until(lambda: collect().count >= 1)
        await handled(self.server)
        return collect()

    async def command(self, name: str, text: str) -> Answer:
        srv = self.server
        text = text.replace("@name", self.mention())
        fields = srv.slash_body("/" + name, text, self.actor_id, channel_id="D0ANA")
        body = urlencode(fields).encode()
        since = len(srv.slack.calls)
        status, ack = await srv.post("/slack/events", body, srv.slack_headers(body, content_type="application/x-www-form-urlencoded"))
        token = fields["response_url"].rsplit("/", 1)[1]

        def collect() -> Answer:
            answer = self._collect(since, token=token, trigger=fields["trigger_id"])
            if ack.strip():  # an ack with text is an answer too
                answer.messages.append(_ack_text(ack))
                answer.raw.append(ack)
            return answer

        answer = await self._settle(since, collect, status)
        answer.status, answer.body = status, ack
        return self.remember(answer, f"{name} {text}")

    async def action(self, action_id: str, value: str) -> Answer:
        srv = self.server
        payload = srv.block_actions(action_id, value, user_id=self.actor_id, channel="D0ANA", message_ts="1700000000.000099")
        token = payload["response_url"].rsplit("/", 1)[1]
        since = len(srv.slack.calls)
        status, body = await srv.slack_interaction(payload)
        answer = await self._settle(since, lambda: self._collect(since, token=token, trigger=payload["trigger_id"], channel_ts=("D0ANA", "1700000000.000099")), status)
        answer.status, answer.body = status, body
        return answer

    async def form(self, form_id: str, values: dict[str, Any] | None, metadata: str, seen: FormSeen | None) -> Answer:
        srv = self.server
        if values is not None and any(not isinstance(v, str) for v in values.values()):
            pytest.skip("Slack builds view_submission state from the modal it showed: its value types are Slack's, not the sender's")
        state = {}
        fields = seen.fields if seen else {"contract_field": "text"}
        for fid, kind in fields.items():
            state[fid] = _slack_state(kind, None if values is None else values.get(fid))
        since = len(srv.slack.calls)
        status, body = await srv.slack_interaction(srv.view_submission(form_id, state, user_id=self.actor_id, private_metadata=metadata))

        def collect() -> Answer:
            answer = self._collect(since, token="-", trigger=None)
            ack = _json_or_none(body)
            if isinstance(ack, dict) and ack.get("response_action") == "errors":
                # Field errors are plain text next to the fields (Slack renders no markup there), so they
                # are not checked for pings; their length is.
                answer.messages.append(" ".join(str(v) for v in (ack.get("errors") or {}).values()))
            elif isinstance(ack, dict) and ack.get("response_action") == "update":
                answer.forms.append(_slack_form(ack.get("view") or {}))
            return answer

        answer = await self._settle(since, collect, status)
        answer.status, answer.body = status, body
        return answer


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _ack_text(ack: str) -> str:
    data = _json_or_none(ack)
    return _slack_text(data) if isinstance(data, dict) else ack


def _slack_form(view: dict[str, Any]) -> FormSeen:
    kinds = {"plain_text_input": "text", "static_select": "select", "users_select": "user", "multi_users_select": "users", "datepicker": "date"}
    fields = {
        b["block_id"]: kinds.get((b.get("element") or {}).get("type"), "text")
        for b in view.get("blocks") or []
        if b.get("type") == "input"
    }
    return FormSeen(view.get("callback_id") or "", view.get("private_metadata") or "", fields)


def _slack_state(kind: str, value: Any) -> dict[str, Any]:
    if kind == "select":
        return {"type": "static_select", "selected_option": {"value": value} if value else None}
    if kind == "user":
        return {"type": "users_select", "selected_user": value}
    if kind == "users":
        return {"type": "multi_users_select", "selected_users": [value] if value else []}
    if kind == "date":
        return {"type": "datepicker", "selected_date": value}
    return {"type": "plain_text_input", "value": value}


class TeamsSurface(Surface):
    name = "teams"
    ok_statuses = (200, 201)
    actor_id = "29:ana"
    KNOWN = {"29:ana", "29:bob", "29:dan"}

    def mention(self) -> str:
        return "<at>Bob Stone</at>"

    def _collect(self, sent_since: int, updated_since: int, conversation_id: str) -> Answer:
        """Everything sent into the actor's chat with the bot (replies and proactive messages) and every card update."""
        answer = Answer(0)
        conn = self.server.connector
        for sent in conn.sent[sent_since:]:
            if sent.conversation_id != conversation_id:
                continue
            answer.raw.append(json.dumps(sent.activity, ensure_ascii=False))
            card = sent.card
            submit = _teams_submit_data(card) if card else None
            if submit is not None and isinstance(submit.get("form_id"), str):
                answer.forms.append(_teams_form(card, submit))
            else:
                answer.messages.append(_teams_text(sent.activity))
        for upd in conn.updated[updated_since:]:
            answer.updates.append(_teams_text(upd.activity))
            answer.raw.append(json.dumps(upd.activity, ensure_ascii=False))
        return answer

    def mark(self) -> Any:
        return len(self.server.connector.sent), len(self.server.connector.updated)

    async def sent_since(self, mark: Any) -> list[str]:
        conn = self.server.connector
        return [json.dumps(x.activity, ensure_ascii=False) for x in conn.sent[mark[0]:] + conn.updated[mark[1]:]]

    def assert_inert(self, raws: list[str]) -> None:
        super().assert_inert(raws)
        for raw in raws:
            activity = json.loads(raw)
            for entity in activity.get("entities") or []:
                if entity.get("type") == "mention":
                    assert (entity.get("mentioned") or {}).get("id") in self.KNOWN, f"teams: a reply mentions someone nobody picked: {entity}"
            text = activity.get("text") or ""
            tags = re.findall(r"<at>.*?</at>", text)
            named = {e.get("text") for e in activity.get("entities") or [] if e.get("type") == "mention"}
            assert all(t in named for t in tags), f"teams: <at> markup without a mention entity in {text[:200]!r}"

    async def _send(self, activity: dict[str, Any]) -> Answer:
        conn = self.server.connector
        sent_since, updated_since = len(conn.sent), len(conn.updated)
        status, body = await self.server.teams_send(activity)
        await handled(self.server)
        answer = self._collect(sent_since, updated_since, activity["conversation"]["id"])
        answer.status, answer.body = status, body
        return answer

    async def command(self, name: str, text: str) -> Answer:
        mentions = [("29:bob", "Bob Stone")] if "@name" in text else []
        typed = text.replace("@name", self.mention())
        activity = self.server.teams_activity(f"<at>pulsebridge</at> {name} {typed}".rstrip(), sender=("29:ana", "Ana Lima"), mentions=mentions)
        return self.remember(await self._send(activity), f"{name} {text}")

    async def say(self, text: str) -> Answer:
        """A message to the bot that is no command (just the mention, chatter)."""
        typed = text.replace("@name", self.mention())
        mentions = [("29:bob", "Bob Stone")] if "@name" in text else []
        return await self._send(self.server.teams_activity(f"<at>pulsebridge</at> {typed}".rstrip(), sender=("29:ana", "Ana Lima"), mentions=mentions))

    async def action(self, action_id: str, value: str) -> Answer:
        return await self._send(self.server.teams_submit({"action_id": action_id, "value": value}, reply_to_id="act-contract"))

    async def form(self, form_id: str, values: dict[str, Any] | None, metadata: str, seen: FormSeen | None) -> Answer:
        fields = seen.fields if seen else {"contract_field": "text"}
        data: dict[str, Any] = {"form_id": form_id, "metadata": metadata, "multi": [f for f, k in fields.items() if k == "users"]}
        for fid in fields:
            if values is not None and values.get(fid) is not None:
                data[fid] = values[fid]
        return await self._send(self.server.teams_submit(data))


def _teams_submit_data(card: dict[str, Any]) -> dict[str, Any] | None:
    found: list[dict[str, Any]] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "Action.Submit" and isinstance(node.get("data"), dict):
                found.append(node["data"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    forms = [d for d in found if "form_id" in d]
    return forms[0] if forms else None


def _teams_form(card: dict[str, Any], submit: dict[str, Any]) -> FormSeen:
    kinds = {"Input.Text": "text", "Input.ChoiceSet": "select", "Input.Date": "date"}
    fields: dict[str, str] = {}

    def walk(node):
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input.") and node.get("id"):
                kind = kinds.get(node["type"], "text")
                if node["id"] in (submit.get("multi") or []):
                    kind = "users"
                fields[node["id"]] = kind
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card.get("body", []))
    return FormSeen(submit["form_id"], str(submit.get("metadata") or ""), fields)


def _teams_text(activity: dict[str, Any]) -> str:
    out = [activity.get("text") or ""]
    for attachment in activity.get("attachments") or []:
        _walk_text((attachment.get("content") or {}).get("body", []), out)
    return "\n".join(o for o in out if o)


class PlaygroundSurface(Surface):
    name = "playground"
    actor_id = "ana"
    live_markup = re.compile(r"<(?:script|at|iframe|img)\b|<a\s", re.IGNORECASE)
    conversation = "dm:ana"

    def mention(self) -> str:
        return "@bob"

    async def sent_since(self, mark: Any) -> list[str]:
        """Every post anyone can see (the store is emptied when a case starts)."""
        raws = []
        for person in ("ana", "bob", "dan"):
            async with self.server.http.get(self.server.url + "/playground/api/state", params={"as": person}) as resp:
                data = await resp.json()
            raws += [p["html"] for c in data["conversations"] for p in c["posts"] if p["bot"]]
        return raws

    async def _state(self) -> dict[int, dict[str, Any]]:
        async with self.server.http.get(self.server.url + "/playground/api/state", params={"as": self.actor_id}) as resp:
            assert resp.status == 200
            data = await resp.json()
        # The actor's DM with the bot, where answers to them go (channel posts are follow-ups, not answers).
        return {p["id"]: p for c in data["conversations"] if c["id"] == self.conversation for p in c["posts"]}

    async def _post(self, path: str, payload: dict[str, Any]) -> tuple[int, str]:
        async with self.server.http.post(self.server.url + path, json=payload) as resp:
            return resp.status, await resp.text()

    async def _exchange(self, path: str, payload: dict[str, Any]) -> Answer:
        before = await self._state()
        status, body = await self._post(path, payload)
        await handled(self.server)
        after = await self._state()
        answer = Answer(status, body=body)
        for pid, post in after.items():
            old = before.get(pid)
            if old is None and post["bot"]:
                form = _playground_form(post["html"])
                if form is not None:
                    answer.forms.append(form)
                else:
                    answer.messages.append(_html_text(post["html"]))
                answer.raw.append(post["html"])
            elif old is not None and old["html"] != post["html"]:
                form = _playground_form(post["html"])
                if form is None:
                    answer.updates.append(_html_text(post["html"]))
                elif _playground_form(old["html"]) is None:
                    answer.forms.append(form)  # a form put in place of a message
                else:
                    # The form shown again with the problems next to its fields.
                    answer.messages.append(" ".join(_html_text(e) for e in _FIELD_ERROR.findall(post["html"])))
                answer.raw.append(post["html"])
        return answer

    def reset(self) -> None:
        """Empty the playground's conversations (they live in memory): every state read renders them all."""
        self.server.core.adapters["playground"].store.clear()

    async def command(self, name: str, text: str, *, reset: bool = True) -> Answer:
        if reset:
            self.reset()
        typed = f"/{name} {text.replace('@name', self.mention())}".rstrip()
        answer = await self._exchange("/playground/api/command", {"as": self.actor_id, "text": typed, "client_id": uuid.uuid4().hex})
        return self.remember(answer, f"{name} {text}")

    async def say(self, text: str) -> Answer:
        """Something typed into the DM that is no command."""
        self.reset()
        typed = text.replace("@name", self.mention()) or self.mention()
        return await self._exchange("/playground/api/command", {"as": self.actor_id, "text": typed, "client_id": uuid.uuid4().hex})

    async def own_post(self) -> int:
        """A post the actor can click on: their own last message in the DM."""
        posts = await self._state()
        mine = [pid for pid, p in posts.items() if not p["bot"]]
        if not mine:
            await self.command("help", "", reset=False)
            posts = await self._state()
            mine = [pid for pid, p in posts.items() if not p["bot"]]
        return max(mine)

    async def action(self, action_id: str, value: str) -> Answer:
        self.reset()
        post = await self.own_post()
        return await self._exchange("/playground/api/action", {"as": self.actor_id, "post": post, "action_id": action_id, "value": value, "client_id": uuid.uuid4().hex})

    async def form(self, form_id: str, values: dict[str, Any] | None, metadata: str, seen: FormSeen | None) -> Answer:
        """The playground submits only forms it shows: open one with the command that opened it before."""
        opener = self.openers.get(form_id)
        if opener is None:
            pytest.skip(f"the playground submits only forms it has shown, and no command input here opened {form_id}")
        name, _, text = opener.partition(" ")
        opened = await self.command(name, text)
        if not any(f.form_id == form_id for f in opened.forms):
            pytest.fail(f"playground: `/{opener}` no longer opens {form_id}")
        posts = await self._state()
        post = max(pid for pid, p in posts.items() if (_playground_form(p["html"]) or FormSeen("", "", {})).form_id == form_id)
        fields = (seen or self.forms_seen[form_id]).fields
        submitted = {} if values is None else {fid: ([values[fid]] if kind == "users" else values[fid]) for fid, kind in fields.items() if values.get(fid) is not None}
        return await self._exchange("/playground/api/form", {"as": self.actor_id, "post": post, "values": submitted, "client_id": uuid.uuid4().hex})


_FORM_TAG = re.compile(r'<form class="form" data-post="\d+" data-form-id="([^"]*)" data-metadata="([^"]*)"')
_FIELD_ERROR = re.compile(r'<span class="error">(.*?)</span>', re.DOTALL)
_FIELD = re.compile(r'<(input|textarea|select) id="f-[^"]*" name="([^"]*)"([^>]*)>')


def _playground_form(markup: str) -> FormSeen | None:
    match = _FORM_TAG.search(markup)
    if match is None:
        return None
    fields: dict[str, str] = {}
    for tag, name, attrs in _FIELD.findall(markup):
        if tag == "select":
            fields[name] = "users" if 'data-multi="1"' in attrs else ("user" if "data-multi" in attrs else "select")
        else:
            fields[name] = "date" if 'type="date"' in attrs else "text"
    return FormSeen(html.unescape(match.group(1)), html.unescape(match.group(2)), fields)


def _html_text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


# -- the database ---------------------------------------------------------------------------------

# Not the bot's data. Everything else counts, the directory too: the surface's `warm_up()` lets the
# bot meet the actor first (Teams stores their profile and conversation on first contact).
# inbound_jobs: every Slack request is recorded before its ack (issue 17), whatever it asks; once processed the row
# keeps only its delivery key (tests/test_anonymity_attacks.py checks that), so it is not something a command stored.
BOOKKEEPING = {"scheduler_lease", "alembic_version", "inbound_jobs"}


_TABLES: dict[int, list[str]] = {}


def row_counts(engine) -> dict[str, int]:
    """Rows in every table but the bookkeeping ones, in one query (read from the schema, so new tables count)."""
    names = _TABLES.get(id(engine))
    if names is None:
        names = _TABLES[id(engine)] = sorted(n for n in inspect(engine).get_table_names() if n not in BOOKKEEPING)
    query = select(*(select(func.count()).select_from(table(n)).scalar_subquery().label(n) for n in names))
    with session(engine) as s:
        return dict(s.execute(query).one()._mapping)


# -- the checks -----------------------------------------------------------------------------------


def assert_clear(surface: Surface, answer: Answer, what: str) -> None:
    for text in answer.messages + answer.updates:
        assert text.strip(), f"{surface.name}: {what}: an empty answer"
        lowered = text.lower()
        bad = next((w for w in FAILURE_WORDS if w in lowered), None)
        assert bad is None, f"{surface.name}: {what}: the answer reads like a crash ({bad!r}): {text[:300]!r}"


def is_usage_or_error(text: str, usage: str) -> bool:
    flat = " ".join(text.split())
    return usage in flat or "usage" in flat.lower() or flat.lstrip().startswith("⚠️")


def error_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


async def check_command(surface: Surface, spec, case: Case, engine, caplog) -> Answer:
    """Run one (surface, command, input) and assert the contract; returns the answer for extra checks."""
    what = f"/{spec.name} {case.label}"
    caplog.set_level(logging.WARNING)
    caplog.clear()
    before = row_counts(engine)
    mark = surface.mark()
    answer = await surface.command(spec.name, case.text)
    assert answer.status in surface.ok_statuses, f"{surface.name}: {what}: HTTP {answer.status} {answer.body[:200]}"
    assert not error_records(caplog), f"{surface.name}: {what}: logged {[r.getMessage()[:300] for r in error_records(caplog)]}"
    assert len(answer.messages) + len(answer.updates) <= 1 and len(answer.forms) <= 1 and answer.count >= 1, (
        f"{surface.name}: {what}: expected one answer (a message, a form, or a form and a line), got "
        f"{len(answer.messages)} message(s), {len(answer.forms)} form(s), {len(answer.updates)} update(s): {answer.text[:500]!r}"
    )
    assert_clear(surface, answer, what)
    surface.assert_inert(answer.raw)
    assert NOT_A_COMMAND not in answer.text, f"{surface.name}: {what}: /{spec.name} never reached its handler (the bot's list of commands came back)"
    if case.kind == "help":
        assert answer.messages and spec.usage in " ".join(answer.text.split()), f"{surface.name}: {what}: help does not show the usage: {answer.text[:300]!r}"
    if case.kind == "garbage" and not answer.forms:
        assert is_usage_or_error(answer.text, spec.usage), f"{surface.name}: {what}: neither usage nor a clear error: {answer.text[:300]!r}"
        assert len(answer.text) <= 2000, f"{surface.name}: {what}: the error repeats the input ({len(answer.text):,} characters)"
    if case.label.startswith("injected:"):
        # What the example sent anyone (recipients' DMs, channel posts): the markup stays words there too.
        surface.assert_inert(await surface.sent_since(mark))
    if case.stores_nothing:
        assert row_counts(engine) == before, f"{surface.name}: {what}: stored something: {diff(before, row_counts(engine))}"
    return answer


async def check_interaction(surface: Surface, run, what: str, engine, caplog, *, update_ok: bool = True) -> Answer:
    caplog.set_level(logging.WARNING)
    caplog.clear()
    before = row_counts(engine)
    answer = await run()
    assert answer.status in surface.ok_statuses, f"{surface.name}: {what}: HTTP {answer.status} {answer.body[:200]}"
    assert not error_records(caplog), f"{surface.name}: {what}: logged {[r.getMessage()[:300] for r in error_records(caplog)]}"
    assert answer.count == 1 and not answer.forms and (update_ok or not answer.updates), (
        f"{surface.name}: {what}: expected one clear message, got {len(answer.messages)} message(s), "
        f"{len(answer.forms)} form(s), {len(answer.updates)} update(s): {answer.text[:500]!r}"
    )
    assert_clear(surface, answer, what)
    surface.assert_inert(answer.raw)
    assert len(answer.text) <= 2000, f"{surface.name}: {what}: the answer repeats the input ({len(answer.text):,} characters)"
    assert row_counts(engine) == before, f"{surface.name}: {what}: stored something: {diff(before, row_counts(engine))}"
    return answer


def diff(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {k: (before.get(k, 0), after.get(k, 0)) for k in set(before) | set(after) if before.get(k) != after.get(k)}


ACTION_VALUES = {"empty": "", "stale": "999999:999999:1", "big-ids": "999999999999:999999999999:1", "garbage": GARBAGE["injection"]}
FORM_VALUES = ("missing", "garbage", "wrong-types")
# Messages to the bot that name no command (Teams and the playground; Slack only sends slash commands).
NO_COMMAND = {"mention-only": "", "words": GARBAGE["words"], "injection": GARBAGE["injection"], "a-colleague": "@name thanks!"}


def garbage_values(fields: dict[str, str], label: str) -> dict[str, Any]:
    """Every field filled with nonsense of its kind; text fields with markup, control characters and 5,000 characters."""
    if label == "wrong-types":
        # JSON a card or the playground page never sends for an input, but a crafted request can.
        return {fid: [{"x": None}, 1, True] if i % 2 else {"value": ["a", 2]} for i, fid in enumerate(fields)}
    text = (GARBAGE["injection"] + " " + GARBAGE["control-chars"] + " " + LONG)[:5000]
    filler = {"text": text, "select": "no-such-option", "user": "UNOBODY", "users": "UNOBODY", "date": "9999-99-99"}
    return {fid: filler[kind] for fid, kind in fields.items()}


# The server is shared by the module, so the tests run on the module's event loop.
MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


class CommandContract:
    """The contract as a mixin. Needs the module-scoped `surface` fixture (below), indirectly parametrized
    with the "<database>-<surface>" ids in `TARGETS`: a Surface with `.server` (the running app: `.core`,
    `.engine`). Cases come from `composed()`."""

    # Every surface on SQLite; PostgreSQL (numbers out of range, NUL, lengths: the handlers' part, the same
    # whichever surface a request came through) through the quickest one, to keep the module short.
    TARGETS: tuple[str, ...] = ("sqlite-slack", "sqlite-teams", "sqlite-playground", "postgres-slack")

    @classmethod
    def register_extra(cls, core) -> None:
        """Register commands, actions or forms that the composition root does not (none by default)."""

    @classmethod
    def composed(cls):
        core = composed_core()
        cls.register_extra(core)
        return core

    def pytest_generate_tests(self, metafunc):
        """surface × (command × input | button × value | form × values), read from `composed()`."""
        core = self.composed()
        names = metafunc.fixturenames
        if "surface" in names:
            # Module-scoped, so pytest runs each surface's tests together: one server per database.
            metafunc.parametrize("surface", self.TARGETS, indirect=True, scope="module")
        if "command_case" in names:
            rows = [(spec.name, case) for spec in core.commands.values() for case in cases_for(spec)]
            metafunc.parametrize("command_name,command_case", rows, ids=[f"{n}-{c.label}" for n, c in rows])
        if "action_case" in names:
            rows = [(a, label) for a in [*core.actions, "contract.no-such-button"] for label in ACTION_VALUES]
            metafunc.parametrize("action_name,action_case", rows, ids=[f"{a}-{v}" for a, v in rows])
        if "form_case" in names:
            rows = [(f, label) for f in [*core.forms, "contract.no-such-form"] for label in FORM_VALUES]
            metafunc.parametrize("form_name,form_case", rows, ids=[f"{f}-{v}" for f, v in rows])
        if "chatter" in names:
            metafunc.parametrize("chatter", list(NO_COMMAND))
        if "command_name" in names and "command_case" not in names:
            metafunc.parametrize("command_name", list(core.commands))

    # -- help text --------------------------------------------------------------------------------
    def test_live_core_registers_what_the_composition_root_does(self, surface):
        live, core = surface.server.core, self.composed()
        assert set(live.commands) == set(core.commands)
        assert set(live.actions) == set(core.actions) and set(live.forms) == set(core.forms)

    def test_has_help_text_everywhere(self, command_name):
        spec = self.composed().commands[command_name]
        assert spec.summary.strip() and len(spec.summary) <= 120, "a one-line summary for the help list"
        assert re.search(rf"/{re.escape(spec.name)}\b", spec.usage), f"the usage line names /{spec.name}"
        slack = slack_manifest_commands()
        assert command_name in slack, f"/{command_name} is not in manifest.yml: Slack never sends it"
        assert slack[command_name].get("description", "").strip() and "usage_hint" in slack[command_name]
        teams = teams_package_commands()
        assert command_name in teams and teams[command_name].strip(), f"{command_name} is not in the Teams app package's command list"

    # -- commands ---------------------------------------------------------------------------------
    @MODULE_LOOP
    async def test_command(self, surface, caplog, command_name, command_case):
        spec = surface.server.core.commands[command_name]
        await check_command(surface, spec, command_case, surface.server.engine, caplog)

    @MODULE_LOOP
    async def test_words_that_are_no_command_get_the_command_list_once(self, surface, caplog, chatter):
        if not hasattr(surface, "say"):
            pytest.skip(f"{surface.name} only sends the commands the app declares")
        what = f"saying {chatter}"
        answer = await check_interaction(surface, lambda: surface.say(NO_COMMAND[chatter]), what, surface.server.engine, caplog, update_ok=False)
        assert NOT_A_COMMAND in answer.text, f"{surface.name}: {what}: not the list of commands: {answer.text[:300]!r}"

    # -- buttons and forms ------------------------------------------------------------------------
    @MODULE_LOOP
    async def test_stale_or_garbage_click(self, surface, caplog, action_name, action_case):
        value = ACTION_VALUES[action_case]
        action_id = action_name if action_case == "empty" else f"{action_name}:{value}"
        await check_interaction(surface, lambda: surface.action(action_id, value), f"click {action_id[:60]}", surface.server.engine, caplog)

    @MODULE_LOOP
    async def test_missing_or_garbage_form(self, surface, caplog, form_name, form_case):
        seen = surface.forms_seen.get(form_name)
        fields = seen.fields if seen else {"contract_field": "text"}
        values = None if form_case == "missing" else garbage_values(fields, form_case)
        metadata = "" if form_case == "missing" else GARBAGE["huge-numbers"]
        what = f"form {form_name} {form_case}"
        await check_interaction(surface, lambda: surface.form(form_name, values, metadata, seen), what, surface.server.engine, caplog)


@contextmanager
def temporary_command(core, name: str, usage: str, handler, summary: str = "a command registered by a test"):
    """Register a command on a running core for the length of a block (the contract's own tests)."""
    core.command(name, summary, usage, handler)
    try:
        yield core.commands[name]
    finally:
        core.commands.pop(name, None)


# -- the fixtures: one app per database for the module, each surface warmed up once ----------------

PULSE_KEY = "contract-test-pulse-key-0123456789abcdef"
PEOPLE = [
    ("ana", "U0ANA", "29:ana", "Ana Lima", ACTOR_EMAIL),
    ("bob", "U0BOB", "29:bob", "Bob Stone", "bob@example.com"),
    ("dan", "U0DAN", "29:dan", "Dan Wu", "dan@example.com"),
]
SURFACES = {cls.name: cls for cls in (SlackSurface, TeamsSurface, PlaygroundSurface)}


class Servers:
    """One app per database (Slack, Teams and the playground on it), started when first asked for."""

    def __init__(self, tmp_path_factory):
        self.tmp = tmp_path_factory
        self.running: dict[str, tuple] = {}
        self.schemas = []

    async def get(self, db: str):
        if db not in self.running:
            self.running[db] = await self._start(self._url(db))
        return self.running[db][1]

    def _url(self, db: str) -> str:
        if db == "sqlite":
            url = f"sqlite:///{self.tmp.mktemp('contract') / 'contract.db'}"
            upgrade(url)
            return url
        base = os.environ.get(POSTGRES_ENV)
        if not base:
            pytest.skip(f"set {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run the PostgreSQL variant")
        schema = throwaway_schema(base)
        self.schemas.append(schema)
        return schema.__enter__()

    async def _start(self, url: str):
        slack, connector = FakeSlackAPI(), FakeBotConnector()
        await slack.start()
        await connector.start()
        for _handle, slack_id, teams_id, name, email in PEOPLE:
            slack.add_user(slack_id, name, email)
            connector.add_member(teams_id, name, email)
        runner, srv = await start_server(make_settings(url, slack.url, PULSEBRIDGE_SECRET_KEY=PULSE_KEY), slack, connector, playground=True)
        with write_unit(srv.engine) as s:
            for handle, _slack_id, _teams_id, name, email in PEOPLE:
                store_profile(s, Profile("playground", handle, name, email, "Europe/Berlin"))
        srv.http = aiohttp.ClientSession()
        return runner, srv, slack, connector

    async def close(self):
        for runner, srv, slack, connector in self.running.values():
            await srv.http.close()
            await runner.cleanup()
            srv.engine.dispose()
            await slack.stop()
            await connector.stop()
        for schema in self.schemas:
            schema.__exit__(None, None, None)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def contract_servers(tmp_path_factory):
    servers = Servers(tmp_path_factory)
    yield servers
    await servers.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def surface(request, contract_servers):
    """"sqlite-slack" → the Slack surface of the SQLite app; each remembers the forms its commands opened."""
    db, name = request.param.split("-", 1)
    server = await contract_servers.get(db)
    for obj in vars(request.module).values():  # what the module's contract classes add to the composition root's
        if isinstance(obj, type) and issubclass(obj, CommandContract):
            obj.register_extra(server.core)
    return await SURFACES[name](server).warm_up()
