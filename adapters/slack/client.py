"""The Slack side of the ChatAdapter contract, over slack_sdk's AsyncWebClient."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render, translate
from bot.events import MessageHandle, Profile
from bot.metrics import RATE_LIMITED, outbound_call
from bot.messages import Message
from bot.ports import ChannelPost, Destination, DirectMessage, Roster, SendFailed

log = logging.getLogger(__name__)

_NOT_FOUND = {"user_not_found", "user_not_visible", "users_not_found"}
# users.list is Tier 2 (about 20 calls a minute): big pages keep a large workspace to few calls.
USERS_PAGE = 200


class _CountingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """Waits out 429s like its parent and counts each one, by API method."""

    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:
        if response is not None and response.status_code == 429:
            RATE_LIMITED.labels("slack", request.url.rstrip("/").rsplit("/", 1)[-1]).inc()
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)


class MeteredWebClient(AsyncWebClient):
    """Counts every Web API call (after retries) by method and outcome for /metrics."""

    async def api_call(self, api_method: str, **kwargs):
        with outbound_call("slack", api_method, _slack_status):
            return await super().api_call(api_method, **kwargs)


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

    async def send(self, destination: Destination, message: Message) -> MessageHandle:
        if isinstance(destination, DirectMessage):
            channel = destination.user.external_id  # posting to a user id lands in the app's DM with them
        elif isinstance(destination, ChannelPost):
            channel = destination.channel_id
        else:  # pragma: no cover - the Destination union is closed
            raise TypeError(destination)
        try:
            response = await self.client.chat_postMessage(
                channel=channel, unfurl_links=False, unfurl_media=False, **render.message_kwargs(message)
            )
        except SlackApiError as exc:
            raise SendFailed(f"chat.postMessage to {channel}: {exc.response.get('error')}") from exc
        return MessageHandle(self.platform, response["channel"], response["ts"])

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
