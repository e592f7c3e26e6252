"""A stand-in for the Slack Web API on loopback that records every call the bot makes.

Point the bot at it with SLACK_API_URL. Tests assert on `calls`, queue errors (HTTP 429 with
Retry-After, Slack error codes) and register users that users.info / users.list return.

It refuses what Slack refuses (tests/fakes/blockkit.py): over-long or over-full Block Kit payloads
get `invalid_blocks` / `invalid_arguments`, a post to a channel in `not_in_channels` gets
`not_in_channel`, and views.open with a trigger_id older than Slack's 3 seconds gets
`expired_trigger_id`. Every refusal is kept in `refusals`; the `fake_slack` fixture fails a test
that caused one it did not expect (`expect_refusals()`). Every Block Kit payload sent is kept in
`payloads` for the @slack/types contract check.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.blockkit import MESSAGE_BLOCKS, block_problems, view_problems

# Slack's trigger_id is good for three seconds after the interaction.
TRIGGER_SECONDS = 3.0
# Slack accepts five posts to one response_url.
RESPONSE_URL_USES = 5
MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral", "chat.scheduleMessage")
VIEW_METHODS = ("views.open", "views.update", "views.push", "views.publish")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    peer: tuple | None = None  # the caller's (host, port): one per TCP connection it opened


class FakeSlackAPI:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, list[tuple[int, dict[str, str], dict[str, Any]]]] = {}
        self.rate_limits: dict[str, tuple[float, list[float]]] = {}
        self._ts = itertools.count(1)
        self.usergroups: list[dict[str, Any]] = []
        self.delays: dict[str, float] = {}  # method -> seconds to hold each call (after recording it)
        self.gates: dict[str, asyncio.Event] = {}  # method -> each call waits for it to be set (after recording it)
        self.page_limit: int | None = None  # caps users.list pages below `limit`, to exercise paging
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel → posted messages, newest last
        self.channel_members: dict[str, list[str]] = {}  # conversations.members; unknown channel → channel_not_found
        self.bot_user_id = "UBOT"
        self.url = ""
        self._runner: web.AppRunner | None = None
        self.sockets: list[web.WebSocketResponse] = []
        # What `pulsebridge check` asks about: the scopes Slack reports in x-oauth-scopes on every
        # bot-token call, the tokens auth.test refuses, and the channels conversations.info knows.
        self.scopes: list[str] = ["channels:read", "chat:write", "commands", "groups:read", "im:history", "im:write",
                                  "users:read", "users:read.email", "usergroups:read"]
        self.revoked_tokens: set[str] = set()
        self.channels: dict[str, dict[str, Any]] = {}
        self.socket_acks: list[dict[str, Any]] = []
        self.not_in_channels: set[str] = set()  # chat.postMessage there → not_in_channel
        self.triggers: dict[str, float] = {}  # trigger_id → when the interaction happened (monotonic)
        self.refusals: list[tuple[str, str, list[str]]] = []  # (method, error, problems)
        self.refusals_expected = False
        self.payloads: list[dict[str, Any]] = []  # {"method", "kind": "blocks"|"view", "payload"}
        self._view_ids = itertools.count(1)
        self._response_url_uses: dict[str, int] = {}

    # -- configuration -------------------------------------------------------------------------
    def add_user(self, user_id: str, name: str, email: str | None = None, tz: str = "Europe/Berlin", **extra: Any) -> None:
        self.users[user_id] = {
            "id": user_id,
            "name": name.lower().replace(" ", "."),
            "real_name": name,
            "tz": tz,
            "deleted": False,
            "is_bot": False,
            "profile": {"display_name": name, "real_name": name, "email": email},
            **extra,
        }

    def add_usergroup(self, group_id: str, handle: str, name: str, users: list[str], channels: list[str] = ()) -> None:
        self.usergroups.append(
            {"id": group_id, "team_id": "T0001", "is_usergroup": True, "handle": handle, "name": name,
             "date_delete": 0, "prefs": {"channels": list(channels), "groups": []}, "users": list(users),
             "user_count": len(users)}
        )

    def add_channel(self, channel_id: str, name: str, *, is_member: bool = True, is_private: bool = False) -> None:
        self.channels[channel_id] = {"id": channel_id, "name": name, "is_channel": not is_private, "is_private": is_private, "is_member": is_member}

    def fail_next(self, method: str, status: int = 429, headers: dict[str, str] | None = None, body: dict[str, Any] | None = None) -> None:
        """Answer the next call of `method` with this status (default: 429 Retry-After 1)."""
        if headers is None and status == 429:
            headers = {"Retry-After": "1"}
        self.errors.setdefault(method, []).append((status, headers or {}, body or {"ok": False, "error": "ratelimited"}))

    def limit_rate(self, method: str, per_second: float) -> None:
        """Enforce a per-method rate like Slack's tiers: over it, HTTP 429 with Retry-After."""
        self.rate_limits[method] = (per_second, [])

    def issue_trigger(self, trigger_id: str) -> str:
        """Note that an interaction carrying `trigger_id` happens now (its 3-second clock starts)."""
        self.triggers[trigger_id] = time.monotonic()
        return trigger_id

    def expect_refusals(self) -> None:
        """This test provokes refusals on purpose: the fixture must not fail it for them."""
        self.refusals_expected = True

    def refusal_for(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """Slack's answer to a payload it would refuse, or None; records the payload either way."""
        problems: list[str] = []
        if method in MESSAGE_METHODS or method == "response_url":
            if params.get("blocks") is not None:
                self.payloads.append({"method": method, "kind": "blocks", "payload": params["blocks"]})
                problems = block_problems(params["blocks"], MESSAGE_BLOCKS)
            elif not params.get("text") and method != "response_url":
                problems = ["no text and no blocks"]
            error = "invalid_blocks" if problems else None
        elif method in VIEW_METHODS:
            if params.get("view") is not None:
                self.payloads.append({"method": method, "kind": "view", "payload": params["view"]})
            problems = view_problems(params.get("view"))
            error = "invalid_arguments" if problems else None
            trigger = params.get("trigger_id")
            if not problems and method in ("views.open", "views.push"):
                issued = self.triggers.get(trigger or "")
                if issued is not None and time.monotonic() - issued > TRIGGER_SECONDS:
                    error, problems = "expired_trigger_id", [f"trigger_id used {time.monotonic() - issued:.1f} s after the interaction"]
        else:
            return None
        if method == "chat.postMessage" and not error and params.get("channel") in self.not_in_channels:
            error, problems = "not_in_channel", []
        if not error:
            return None
        self.refusals.append((method, error, problems))
        body: dict[str, Any] = {"ok": False, "error": error}
        if problems:
            body["response_metadata"] = {"messages": ["[ERROR] " + p for p in problems]}
        return body

    # -- inspection ----------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} call(s) to {method}, got {len(self.calls_to(method))}: {self.calls_to(method)}")

    async def wait_for_form(self, callback_id: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The views shown with `callback_id`, opened directly or put into a loading modal (views.update)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c.params["view"] for c in self.calls if c.method in ("views.open", "views.update", "views.push")
                     and (c.params.get("view") or {}).get("callback_id") == callback_id]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} form(s) {callback_id}, got {len(found)}")
            await asyncio.sleep(0.02)

    # -- server --------------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{token}", self._response_url)
        app.router.add_get("/socket-mode", self._socket_mode)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if raw:
            if request.content_type == "application/json":
                params.update(json.loads(raw))
            else:
                params.update(parse_qsl(raw.decode()))
        for key in ("blocks", "attachments", "view", "metadata"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        params["_auth"] = request.headers.get("Authorization", "")
        return params

    async def _response_url(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        params["_token"] = request.match_info["token"]
        queued = self.errors.get("response_url")
        if queued:
            status, headers, body = queued.pop(0)
            self.calls.append(Call("response_url:rejected", params))
            return web.json_response(body, status=status, headers=headers)
        token = params["_token"]
        self._response_url_uses[token] = self._response_url_uses.get(token, 0) + 1
        if self._response_url_uses[token] > RESPONSE_URL_USES:
            self.refusals.append(("response_url", "used_url", [f"post {self._response_url_uses[token]} to one response_url"]))
            self.calls.append(Call("response_url:rejected", params))
            return web.json_response({"ok": False, "error": "used_url"})
        refused = self.refusal_for("response_url", params)
        if refused:
            # Slack answers a response_url it will not show with 200 and an error body, not an HTTP error.
            self.calls.append(Call("response_url:rejected", params))
            return web.json_response(refused)
        self.calls.append(Call("response_url", params))
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        queued = self.errors.get(method)
        if queued:
            status, headers, body = queued.pop(0)
            self.calls.append(Call(method + ":rejected", params))
            return web.json_response(body, status=status, headers=headers)
        if method in self.rate_limits:
            per_second, history = self.rate_limits[method]
            now = time.monotonic()
            history[:] = [t for t in history if now - t < 1.0]
            if len(history) >= per_second:
                self.calls.append(Call(method + ":rejected", params))
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"})
            history.append(now)
        refused = self.refusal_for(method, params)
        if refused:
            self.calls.append(Call(method + ":rejected", params))
            return web.json_response(refused)
        self.calls.append(Call(method, params, peer=request.transport.get_extra_info("peername") if request.transport else None))
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        if method in self.gates:
            await self.gates[method].wait()
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        body = handler(params) if handler else {"ok": True}
        headers = {}
        if params["_auth"].startswith("Bearer xoxb-"):  # Slack names the token's scopes on each Web API answer
            headers["x-oauth-scopes"] = ",".join(self.scopes)
        return web.json_response(body, headers=headers)

    # -- Socket Mode ---------------------------------------------------------------------------
    async def push_envelope(self, envelope_type: str, payload: dict[str, Any], envelope_id: str) -> None:
        """Deliver an envelope to every connected Socket Mode client, as Slack does."""
        for ws in self.sockets:
            await ws.send_json({"envelope_id": envelope_id, "type": envelope_type, "payload": payload, "accepts_response_payload": True, "retry_attempt": 0, "retry_reason": ""})

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}, "connection_info": {"app_id": "A0PULSE"}})
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                self.socket_acks.append(message.json())
        self.sockets.remove(ws)
        return ws

    def _apps_connections_open(self, params):
        if not params.get("_auth", "").startswith("Bearer xapp-") or params["_auth"].removeprefix("Bearer ") in self.revoked_tokens:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket-mode"}

    # -- methods -------------------------------------------------------------------------------
    def _auth_test(self, params):
        if params.get("_auth", "").removeprefix("Bearer ") in self.revoked_tokens:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": "https://example.slack.com/", "team": "Example", "user": "pulsebridge",
                "team_id": "T0001", "user_id": self.bot_user_id, "bot_id": "B0001"}

    def _users_info(self, params):
        user = self.users.get(params.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _chat_postMessage(self, params):
        channel = params.get("channel", "")
        if channel.startswith("U"):
            channel = "D" + channel[1:]
        ts = f"1700000000.{next(self._ts):06d}"
        message = {"type": "message", "ts": ts, "text": params.get("text")}
        if params.get("metadata"):
            message["metadata"] = params["metadata"]
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": params.get("text")}}

    def _conversations_members(self, params):
        members = self.channel_members.get(params.get("channel", ""))
        if members is None:
            return {"ok": False, "error": "channel_not_found"}
        start, limit = int(params.get("cursor") or 0), int(params.get("limit") or 100)
        page = members[start : start + limit]
        more = start + limit < len(members)
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _conversations_info(self, params):
        channel = self.channels.get(params.get("channel", ""))
        if channel is None or (channel["is_private"] and not channel["is_member"]):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": dict(channel)}

    def _conversations_open(self, params):
        users = params.get("users", "")
        return {"ok": True, "channel": {"id": "D" + users[1:] if users.startswith("U") else users}}

    def _conversations_history(self, params):
        messages = list(reversed(self.messages.get(params.get("channel", ""), [])))[: int(params.get("limit") or 100)]
        if str(params.get("include_all_metadata")).lower() not in ("true", "1"):
            messages = [{k: v for k, v in m.items() if k != "metadata"} for m in messages]
        return {"ok": True, "messages": messages, "has_more": False}

    def _views_open(self, params):
        view = dict(params.get("view") or {})
        view.update(id=f"V{next(self._view_ids):08d}", hash=f"h{time.monotonic_ns()}")
        return {"ok": True, "view": view}

    _views_push = _views_open

    def _views_update(self, params):
        view = dict(params.get("view") or {})
        view.update(id=params.get("view_id") or "V-external", hash=f"h{time.monotonic_ns()}")
        return {"ok": True, "view": view}

    def _views_publish(self, params):
        view = dict(params.get("view") or {})
        view.update(id=f"VHOME{params.get('user_id', '')}", hash=f"h{time.monotonic_ns()}")
        return {"ok": True, "view": view}

    def _chat_update(self, params):
        return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}

    def _chat_postEphemeral(self, _params):
        return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}

    def _users_list(self, params):
        members = list(self.users.values())
        limit = int(params.get("limit") or 0) or len(members) or 1
        if self.page_limit:
            limit = min(limit, self.page_limit)
        start = int(params["cursor"].removeprefix("page:")) if params.get("cursor") else 0
        end = start + limit
        next_cursor = f"page:{end}" if end < len(members) else ""
        return {"ok": True, "members": members[start:end], "cache_ts": int(time.time()),
                "response_metadata": {"next_cursor": next_cursor}}

    def _usergroups_list(self, params):
        include_users = str(params.get("include_users", "")).lower() in ("1", "true")
        groups = [g if include_users else {k: v for k, v in g.items() if k != "users"} for g in self.usergroups]
        return {"ok": True, "usergroups": groups}
