"""A stand-in for the Bot Framework Connector (Teams' serviceUrl) that records what the bot sends.

Strict where real Teams is strict (each rule was seen against Teams or is documented):
- a message activity with both text and an attachment becomes two posts in Teams: the connector
  answers 202 with no activity id (nothing to update later), and this fake records two posts;
- an update carrying text and an attachment is refused: 400 BadSyntax "Activity resulted into
  multiple skype activities";
- a payload over 100 KB is refused: 413 MessageSizeTooBig (learn.microsoft.com, "Format your bot
  messages": "The bot message size limit is 100 KB … the bot receives a 413 status code
  (RequestEntityTooLarge), which contains the error code MessageSizeTooBig").
Every Adaptive Card it receives is also checked against the Adaptive Card 1.5 schema plus the
Teams host extensions (tests/fakes/cards.py); problems are collected in `card_problems`, and the
fixture fails the test that produced them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.cards import card_problems, remember

MAX_MESSAGE_BYTES = 100 * 1024
MULTIPLE_ACTIVITIES = "Activity resulted into multiple skype activities"


@dataclass
class Sent:
    conversation_id: str
    reply_to: str | None
    activity: dict[str, Any]

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.activity.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                remember(attachment.get("content"))
                return attachment["content"]
        return None


class FakeBotConnector:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.created: list[dict[str, Any]] = []
        self.updated: list[Sent] = []
        self.members: dict[str, dict[str, Any]] = {}
        self.rosters: dict[str, list[str]] = {}  # conversation id -> member ids (default: everyone)
        self.page_limit: int | None = None  # caps pagedmembers pages below pageSize, to exercise paging
        self.member_pages: list[str] = []  # conversation ids of every pagedmembers request
        self.update_failures: list[int] = []  # HTTP statuses for the next updates, whatever they carry
        self.send_failures: dict[str, list[int]] = {}  # conversation id -> HTTP statuses for its next sends (e.g. 429)
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Authorization) of every request, whatever it was
        self.refused: list[tuple[str, int, str]] = []  # (path, status, error code) of every send/update refused as Teams would
        self.card_problems: list[str] = []  # schema problems of cards the bot sent (the fixture fails the test on any)
        self.split_posts: list[str] = []  # activity ids never returned: text + card sent as one activity became two posts
        self.member_gate: asyncio.Event | None = None  # when set: every member look-up waits for it (after being recorded)
        self._ids = itertools.count(1)
        self.url = ""
        self._runner: web.AppRunner | None = None

    def add_member(self, member_id: str, name: str, email: str | None = None) -> None:
        self.members[member_id] = {
            "id": member_id,
            "name": name,
            "aadObjectId": f"aad-{member_id}",
            "email": email,
            "userPrincipalName": email,
            "tenantId": "tenant-1",
        }

    def sent_to(self, conversation_id: str) -> list[Sent]:
        return [s for s in self.sent if s.conversation_id == conversation_id]

    async def wait_for(self, count: int, timeout: float = 10.0, conversation_id: str | None = None) -> list[Sent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.sent if conversation_id is None else self.sent_to(conversation_id)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} activities, got {len(self.sent)}: {self.sent}")

    @web.middleware
    async def _record(self, request: web.Request, handler):
        self.requests.append((request.method, request.path, request.headers.get("Authorization", "")))
        return await handler(request)

    async def start(self) -> str:
        app = web.Application(middlewares=[self._record])
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{reply}", self._send)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        app.router.add_get("/v3/conversations/{cid}/pagedmembers", self._paged_members)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def _refuse(self, request: web.Request, status: int, code: str, message: str) -> web.Response:
        self.refused.append((request.path, status, code))
        return web.json_response({"error": {"code": code, "message": message}}, status=status)

    async def _checked(self, request: web.Request) -> tuple[dict[str, Any] | None, web.Response | None]:
        raw = await request.read()
        if len(raw) > MAX_MESSAGE_BYTES:
            return None, self._refuse(request, 413, "MessageSizeTooBig", f"Message size {len(raw)} bytes is over the limit")
        body = json.loads(raw)
        for attachment in body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                remember(attachment.get("content"))
                self.card_problems.extend(f"{request.method} {request.path}: {p}" for p in card_problems(attachment.get("content")))
        return body, None

    @staticmethod
    def _splits(body: dict[str, Any]) -> bool:
        return bool((body.get("text") or "").strip()) and bool(body.get("attachments"))

    async def _send(self, request: web.Request) -> web.Response:
        body, refused = await self._checked(request)
        if refused is not None:
            return refused
        if self.send_failures.get(request.match_info["cid"]):
            status = self.send_failures[request.match_info["cid"]].pop(0)
            return web.json_response({"error": {"code": "Throttled" if status == 429 else "ServiceError", "message": "try later"}},
                                     status=status, headers={"Retry-After": "1"} if status == 429 else None)
        if self._splits(body):
            # Teams posts the text and the card as two messages and answers without an id.
            text_only = {k: v for k, v in body.items() if k not in ("attachments",)}
            card_only = {k: v for k, v in body.items() if k not in ("text", "entities", "textFormat")}
            for part in (text_only, card_only):
                self.split_posts.append(f"act-{next(self._ids)}")
                self.sent.append(Sent(request.match_info["cid"], request.match_info.get("reply"), part))
            return web.json_response({}, status=202)
        self.sent.append(Sent(request.match_info["cid"], request.match_info.get("reply"), body))
        return web.json_response({"id": f"act-{next(self._ids)}"})

    async def _update(self, request: web.Request) -> web.Response:
        body, refused = await self._checked(request)
        if refused is not None:
            return refused
        if self._splits(body):
            return self._refuse(request, 400, "BadSyntax", MULTIPLE_ACTIVITIES)
        if self.update_failures:
            return self._refuse(request, self.update_failures.pop(0), "ServiceError", "update failed")
        self.updated.append(Sent(request.match_info["cid"], request.match_info["aid"], body))
        return web.json_response({"id": request.match_info["aid"]})

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.created.append(body)
        member = (body.get("members") or [{}])[0].get("id", "x")
        return web.json_response({"id": f"a:personal-{member}", "activityId": None, "serviceUrl": self.url})

    async def _member(self, request: web.Request) -> web.Response:
        if self.member_gate is not None:
            await self.member_gate.wait()
        member = self.members.get(request.match_info["mid"])
        if member is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation", "message": "not found"}}, status=404)
        return web.json_response(member)

    async def _paged_members(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        self.member_pages.append(cid)
        ids = self.rosters.get(cid, list(self.members))
        size = int(request.query.get("pageSize") or 0) or len(ids) or 1
        if self.page_limit:
            size = min(size, self.page_limit)
        start = int(request.query.get("continuationToken") or 0)
        end = start + size
        body: dict[str, Any] = {"members": [self.members[m] for m in ids[start:end]]}
        if end < len(ids):
            body["continuationToken"] = str(end)
        return web.json_response(body)
