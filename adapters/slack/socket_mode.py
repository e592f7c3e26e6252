"""Socket Mode start-up: fail fast, in one line, when the app token is refused or Slack cannot be reached.

Left to itself the Socket Mode client retries a refused token every few seconds forever, with a
traceback each time, and the server never starts listening. Opening one connection URL first
(`apps.connections.open`, the call the client makes anyway) tells the two cases apart.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

# Errors Slack gives for an app token that will never work: the admin has to fix SLACK_APP_TOKEN.
TOKEN_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "account_inactive", "not_allowed_token_type", "missing_scope"}
OPEN_TIMEOUT = 15.0


class SocketModeUnavailable(Exception):
    """One line for the admin; `pulsebridge run` exits 2 with it."""


async def ensure_connectable(client, app_token: str, *, timeout: float = OPEN_TIMEOUT) -> None:
    """Raise SocketModeUnavailable unless Slack hands out a Socket Mode URL for `app_token`."""
    try:
        await asyncio.wait_for(client.apps_connections_open(app_token=app_token), timeout)
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error") if exc.response is not None else "unknown_error"
        if error in TOKEN_ERRORS:
            raise SocketModeUnavailable(
                f"SLACK_APP_TOKEN: Slack refused the app-level token ({error}); create one with connections:write "
                "under Basic Information → App-Level Tokens, and set socket_mode_enabled: true in the manifest"
            ) from None
        raise SocketModeUnavailable(f"Socket Mode: Slack answered apps.connections.open with {error}") from None
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        detail = type(exc).__name__ + (f": {exc}" if str(exc) else "")
        raise SocketModeUnavailable(f"Socket Mode: cannot reach Slack at {client.base_url} ({detail.splitlines()[0][:200]})") from None
