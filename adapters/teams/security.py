"""Who may drive the Teams endpoint, and where the bot may send: JWT, tenant and serviceUrl checks.

An activity names its own `serviceUrl`, and the bot sends every reply, member look-up and later
proactive message there. So the URL is only believed after the channel's JWT (whose `serviceurl`
claim botframework compares with the activity) and the tenant have been checked, and only when its
host is on the allow-list; outbound calls check the list again, for references stored earlier.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult, BotFrameworkAuthentication, ClaimsIdentity

from bot.kernel.settings import is_loopback

log = logging.getLogger(__name__)


class Refused(Exception):
    """An inbound activity that must not run: carries the HTTP status and a short, safe reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ServiceUrls:
    """An allow-list of Bot Framework hosts: `host` (port 443), `host:port`, or `*.domain` (port 443).

    https is required except for loopback hosts, which only tests and the Emulator configure.
    """

    def __init__(self, entries: tuple[str, ...]):
        self.entries = tuple(e.lower() for e in entries)

    def allows(self, url: object) -> bool:
        if not isinstance(url, str) or not url:
            return False
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            port = parts.port
        except ValueError:
            return False
        if not host or parts.username is not None or parts.password is not None:
            return False
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(host)):
            return False
        port = port or (443 if parts.scheme == "https" else 80)
        for entry in self.entries:
            want_host, want_port = _split(entry)
            if want_port is None:
                want_port = 443 if parts.scheme == "https" else 80
            if port != want_port:
                continue
            if want_host.startswith("*."):
                if host.endswith(want_host[1:]) and host != want_host[2:]:
                    return True
            elif host == want_host:
                return True
        return False


def _split(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [::1]:port
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return entry, None


def tenant_of(activity: Activity) -> str | None:
    """The tenant Teams names in channelData (always there for Teams), else on the conversation."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant") if isinstance(data.get("tenant"), dict) else {}
    found = tenant.get("id") or (activity.conversation.tenant_id if activity.conversation else None)
    return found if isinstance(found, str) and found else None


class GuardedAuthentication(BotFrameworkAuthentication):
    """botframework's authentication, then our tenant and serviceUrl checks, before any turn runs.

    botframework raises bare Exceptions (IndexError for an unknown key id, "algorithm not allowed",
    PyJWT errors) for forged tokens; every one of them is a 401 here, logged without a traceback.
    """

    def __init__(self, inner: BotFrameworkAuthentication, *, signed: bool, tenants: tuple[str, ...], service_urls: ServiceUrls):
        self._inner = inner
        self._signed = signed
        self._tenants = frozenset(tenants)
        self._service_urls = service_urls

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        if self._signed and not auth_header:
            raise Refused(401, "missing Authorization header")
        try:
            result = await self._inner.authenticate_request(activity, auth_header)
        except Exception as exc:  # noqa: BLE001 - any failure to authenticate is the caller's, not ours
            log.info("Teams activity refused: token rejected (%s)", type(exc).__name__)
            raise Refused(401, "invalid Authorization token") from None
        identity = result.claims_identity
        if self._signed and (identity is None or not identity.is_authenticated):
            raise Refused(401, "invalid Authorization token")
        if self._signed and tenant_of(activity) not in self._tenants:
            log.warning("Teams activity refused: tenant %r is not configured", tenant_of(activity))
            raise Refused(403, "this tenant is not served by this bot")
        if not self._service_urls.allows(activity.service_url):
            log.warning("Teams activity refused: serviceUrl host is not an allowed Bot Framework host")
            raise Refused(403, "serviceUrl is not an allowed Bot Framework host")
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> AuthenticateRequestResult:
        raise Refused(404, "streaming is not served")

    def create_connector_factory(self, claims_identity: ClaimsIdentity):
        return self._inner.create_connector_factory(claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity):
        return await self._inner.create_user_token_client(claims_identity)

    def create_bot_framework_client(self):
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)
