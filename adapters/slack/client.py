"""The Slack side of the ChatAdapter contract, over slack_sdk's AsyncWebClient."""

from __future__ import annotations

import asyncio
import logging
import re

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render, translate
from bot.kernel.events import MessageHandle, Profile
from bot.kernel.metrics import RATE_LIMITED, REFUSED, outbound_call
from bot.kernel.messages import Message, UserRef
from bot.kernel.ports import ChannelPost, Destination, DirectMessage, NotInChannel, RateLimited, Roster, SendFailed

log = logging.getLogger(__name__)

MARKER_EVENT = "pulsebridge_delivery"
_NOT_FOUND = {"user_not_found", "user_not_visible", "users_not_found"}
# users.list is Tier 2 (about 20 calls a minute): big pages keep a large workspace to few calls.
USERS_PAGE = 200


class _CountingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """Waits out 429s like its parent and counts each one, by API method."""

    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:
        if response is not None and response.status_code == 429:
            RATE_LIMITED.labels("slack", request.url.rstrip("/").rsplit("/", 1)[-1]).inc()
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)


_ERROR_CODE = re.compile(r"[a-z0-9_]{1,60}")


def error_code(error: object) -> str:
    """A Slack error code fit for a metric label: Slack's own codes are short snake_case words."""
    text = str(error or "").strip()
    return text if _ERROR_CODE.fullmatch(text) else "other"


def refused(method: str, error: object, detail: object = None) -> str:
    """Log and count one refusal by Slack; returns the error code."""
    code = error_code(error)
    REFUSED.labels("slack", method, code).inc()
    log.warning("Slack refused %s: %s%s", method, code, f" ({str(detail)[:300]})" if detail else "")
    return code


class PooledWebClient(AsyncWebClient):
    """An AsyncWebClient that keeps its connections to Slack open between calls.

    Given no session, slack_sdk opens a new aiohttp session for every call: a new TCP connection
    and, against slack.com, a new TLS handshake per message, all of it on the HTTP loop where the
    adapters run. `SlackAdapter.open_connections` lends one shared session bound to the loop that
    opened it (the server's HTTP loop); a call from any other loop (a test's, a one-off CLI run)
    gets none, and slack_sdk opens one for that call as before.
    """

    _shared: tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession] | None = None
    _given: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession | None:
        if self._given is not None or self._shared is None:
            return self._given
        loop, shared = self._shared
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return None
        return shared if running is loop and not shared.closed else None

    @session.setter
    def session(self, value: aiohttp.ClientSession | None) -> None:  # slack_sdk's own __init__ sets it
        self._given = value

    def share(self, loop: asyncio.AbstractEventLoop | None, session: aiohttp.ClientSession | None) -> None:
        self._shared = None if session is None else (loop, session)


class MeteredWebClient(PooledWebClient):
    """Counts every Web API call (after retries) by method and outcome for /metrics, and every
    refusal (`ok: false`) by method and Slack's error code, with a log line naming both."""

    async def api_call(self, api_method: str, **kwargs):
        with outbound_call("slack", api_method, _slack_status):
            try:
                return await super().api_call(api_method, **kwargs)
            except SlackApiError as exc:
                data = exc.response.data if isinstance(exc.response.data, dict) else {}
                if exc.response.status_code != 429:
                    refused(api_method, data.get("error"), (data.get("response_metadata") or {}).get("messages"))
                raise


def _slack_status(exc: BaseException) -> int | None:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if status != 200 else None  # a 200 with ok=false is an API error, not an HTTP one


def make_client(token: str, base_url: str, max_retries: int = 5) -> AsyncWebClient:
    """A client that waits out HTTP 429 (honouring Retry-After) and retries dropped connections."""
    return MeteredWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=max_retries),
            _CountingRateLimitHandler(max_retry_count=max_retries),
        ],
    )


class SlackAdapter:
    platform = translate.PLATFORM

    def __init__(self, client: AsyncWebClient):
        self.client = client
        # For bulk sends: same token and URL, but a 429 surfaces as RateLimited instead of being
        # waited out inside slack_sdk, so the caller's pacer accounts for the retry.
        self.bulk_client = PooledWebClient(
            token=client.token,
            base_url=client.base_url,
            retry_handlers=[h for h in client.retry_handlers if not isinstance(h, AsyncRateLimitErrorRetryHandler)],
        )

        self._connections: aiohttp.ClientSession | None = None

    async def open_connections(self, limit: int = 64) -> None:
        """One connection pool (kept alive between calls) for both clients, on the calling loop."""
        timeout = aiohttp.ClientTimeout(total=self.client.timeout)
        self._connections = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit), timeout=timeout)
        loop = asyncio.get_running_loop()
        for client in (self.client, self.bulk_client):
            if isinstance(client, PooledWebClient):
                client.share(loop, self._connections)

    async def close_connections(self) -> None:
        for client in (self.client, self.bulk_client):
            if isinstance(client, PooledWebClient):
                client.share(None, None)
        if self._connections is not None:
            await self._connections.close()
            self._connections = None

    async def send(self, destination: Destination, message: Message) -> MessageHandle:
        return await self.send_marked(destination, message, None)

    # Set by adapters/slack/app.py (the responders module imports this one): builds the answer
    # channel of an accepted command or click from what was stored with it (bot/kernel/core.py accept).
    make_responder = None

    def responder(self, state: dict, event: object):
        if self.make_responder is None:
            raise RuntimeError("SlackAdapter.make_responder is not set (adapters/slack/app.py build)")
        return self.make_responder(state, event)

    async def send_marked(self, destination: Destination, message: Message, marker: str | None) -> MessageHandle:
        """Send with an idempotency marker in the message metadata, so `find_marked` can tell later whether it landed.

        With a marker this is a bulk send: HTTP 429 raises RateLimited(retry_after) for the caller to pace.
        """
        if isinstance(destination, DirectMessage):
            channel = destination.user.external_id  # posting to a user id lands in the app's DM with them
        elif isinstance(destination, ChannelPost):
            channel = destination.channel_id
        else:  # pragma: no cover - the Destination union is closed
            raise TypeError(destination)
        client = self.bulk_client if marker else self.client
        pages = render.pages(message)
        first: MessageHandle | None = None
        for number, page in enumerate(pages, start=1):
            # Every part carries the marker; `find_marked` counts a long message as landed only
            # when its last part did (parts go out in order).
            payload = {"marker": marker} if len(pages) == 1 else {"marker": marker, "part": number, "parts": len(pages)}
            extra = {"metadata": {"event_type": MARKER_EVENT, "event_payload": payload}} if marker else {}
            try:
                response = await client.chat_postMessage(channel=channel, unfurl_links=False, unfurl_media=False, **page, **extra)
            except SlackApiError as exc:
                if exc.response.status_code == 429:
                    headers = {k.lower(): v for k, v in (exc.response.headers or {}).items()}
                    try:
                        retry_after = float(headers.get("retry-after", 1))
                    except (TypeError, ValueError):
                        retry_after = 1.0
                    raise RateLimited(f"chat.postMessage to {channel}: ratelimited", retry_after) from exc
                error = exc.response.get("error")
                if client is self.bulk_client:
                    refused("chat.postMessage", error)  # the bulk client is not metered
                if error in ("not_in_channel", "channel_not_found") and isinstance(destination, ChannelPost):
                    raise NotInChannel(f"chat.postMessage to {channel}: {error}", channel) from exc
                raise SendFailed(f"chat.postMessage to {channel}: {error}") from exc
            if first is None:
                first = MessageHandle(self.platform, response["channel"], response["ts"])
        assert first is not None
        return first

    async def find_marked(self, destination: Destination, marker: str) -> MessageHandle | None:
        """The message sent with `marker` among the newest in that DM/channel, or None if it never landed."""
        if isinstance(destination, DirectMessage):
            opened = await self.client.conversations_open(users=destination.user.external_id)
            channel = opened["channel"]["id"]
        else:
            channel = destination.channel_id
        history = await self.client.conversations_history(channel=channel, limit=50, include_all_metadata=True)
        found: dict[int, str] = {}
        parts = 1
        for item in history.get("messages") or []:
            metadata = item.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == MARKER_EVENT and payload.get("marker") == marker:
                parts = int(payload.get("parts") or 1)
                found[int(payload.get("part") or 1)] = item["ts"]
        if 1 in found and parts in found:
            return MessageHandle(self.platform, channel, found[1])
        return None

    async def publish_home(self, user: UserRef, message: Message) -> None:
        """The person's App Home tab (views.publish; needs no scope beyond the bot token)."""
        try:
            await self.client.views_publish(user_id=user.external_id, view=render.home(message))
        except SlackApiError as exc:
            raise SendFailed(f"views.publish for {user.external_id}: {exc.response.get('error')}") from exc

    async def update(self, handle: MessageHandle, message: Message) -> None:
        try:
            await self.client.chat_update(channel=handle.conversation_id, ts=handle.message_id, **render.message_kwargs(message))
        except SlackApiError as exc:
            raise SendFailed(f"chat.update in {handle.conversation_id}: {exc.response.get('error')}") from exc

    async def fetch_profile(self, external_id: str) -> Profile | None:
        try:
            response = await self.client.users_info(user=external_id)
        except SlackApiError as exc:
            if exc.response.get("error") in _NOT_FOUND:
                return None
            log.warning("users.info for %s failed: %s", external_id, exc.response.get("error"))
            return None
        return translate.profile(response["user"])

    async def channel_members(self, channel_id: str) -> frozenset[str]:
        """Everyone in a channel (conversations.members, every page; needs channels:read / groups:read).

        Raises SendFailed when Slack will not say: callers deciding who may act must then refuse.
        """
        members: set[str] = set()
        cursor = ""
        while True:
            try:
                response = await self.client.conversations_members(channel=channel_id, limit=USERS_PAGE, **({"cursor": cursor} if cursor else {}))
            except SlackApiError as exc:
                raise SendFailed(f"conversations.members in {channel_id}: {exc.response.get('error')}") from exc
            members.update(response.get("members") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return frozenset(members)

    async def roster(self, *, groups: bool = False) -> Roster:
        """users.list page by page (the client waits out 429s), then user groups with their members."""
        people = []
        cursor = ""
        while True:
            response = await self.client.users_list(limit=USERS_PAGE, **({"cursor": cursor} if cursor else {}))
            people.extend(translate.profile(member) for member in response.get("members") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        found = ()
        if groups:
            response = await self.client.usergroups_list(include_users=True)
            found = tuple(translate.user_group(group) for group in response.get("usergroups") or [] if not group.get("date_delete"))
        return Roster(tuple(people), found)
