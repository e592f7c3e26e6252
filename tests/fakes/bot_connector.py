"""A stand-in for the Bot Framework Connector (Teams' serviceUrl) that records what the bot sends."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass
class Sent:
    conversation_id: str
    reply_to: str | None
    activity: dict[str, Any]

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.activity.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
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
        self.send_failures: dict[str, list[int]] = {}  # conversation id -> HTTP statuses for its next sends (e.g. 429)
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Authorization) of every request, whatever it was
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

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.send_failures.get(request.match_info["cid"]):
            status = self.send_failures[request.match_info["cid"]].pop(0)
            return web.json_response({"error": {"code": "Throttled" if status == 429 else "ServiceError", "message": "try later"}},
                                     status=status, headers={"Retry-After": "1"} if status == 429 else None)
        self.sent.append(Sent(request.match_info["cid"], request.match_info.get("reply"), body))
        return web.json_response({"id": f"act-{next(self._ids)}"})

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.updated.append(Sent(request.match_info["cid"], request.match_info["aid"], body))
        return web.json_response({"id": request.match_info["aid"]})

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.created.append(body)
        member = (body.get("members") or [{}])[0].get("id", "x")
        return web.json_response({"id": f"a:personal-{member}", "activityId": None, "serviceUrl": self.url})

    async def _member(self, request: web.Request) -> web.Response:
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
