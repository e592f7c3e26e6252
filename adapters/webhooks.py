"""Inbound feedback webhooks: HTTP in, signature and size checks, JSON errors out. Logic lives in bot.feedback.

Signing: `X-Pulsebridge-Timestamp: <unix seconds>` and
`X-Pulsebridge-Signature: sha256=<hex HMAC-SHA256(FEEDBACK_WEBHOOK_SECRET, timestamp + "." + raw body)>`.
The timestamp is inside the signed string, so a captured request cannot be replayed later with a
fresh timestamp; requests more than five minutes away from our clock are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time

from aiohttp import web

from adapters.bodies import read_limited
from bot.feedback.parsers import parse
from bot.feedback.payload import load
from bot.feedback.record import MalformedFeedback
from bot.feedback.service import receive

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
MAX_AGE_SECONDS = 300
SIGNATURE_HEADER = "X-Pulsebridge-Signature"
TIMESTAMP_HEADER = "X-Pulsebridge-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The header value a sender must put in X-Pulsebridge-Signature."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _error(status: int, message: str, field: str | None = None) -> web.Response:
    body = {"error": message}
    if field:
        body["field"] = field
    return web.json_response(body, status=status)


def _authentic(secret: str, request: web.Request, body: bytes, now: float) -> str | None:
    """None when the request is signed by us and fresh, else why not (never echoed in detail)."""
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not signature:
        return "missing signature headers"
    # ASCII digits only: str.isdigit() lets "²" through, and int() then raises.
    if not _TIMESTAMP.fullmatch(timestamp) or abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return "stale or invalid timestamp"
    # Bytes, not str: compare_digest raises TypeError on a non-ASCII str.
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode("utf-8", "surrogateescape")):
        return "signature mismatch"
    return None


def feedback_handler(core, secret: str | None):
    async def handle(request: web.Request) -> web.Response:
        if not secret:
            return _error(503, "feedback webhook is disabled: set FEEDBACK_WEBHOOK_SECRET")
        body = await read_limited(request, MAX_BODY)
        if body is None:
            return _error(413, f"body is larger than {MAX_BODY // 1024} KiB")
        problem = _authentic(secret, request, body, time.time())
        if problem is not None:
            log.warning("refused feedback webhook from %s: %s", request.remote, problem)
            return _error(401, "invalid or missing signature")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "body is not valid UTF-8", "body")
        try:
            payload = load(text)
            record = parse(payload, request.query.get("format", "auto"))
        except MalformedFeedback as exc:
            return _error(400, exc.message, exc.field)
        result = await receive(core, record, payload)
        row = result.feedback
        answer = {
            "status": "duplicate" if result.duplicate else "stored",
            "id": row.id,
            "source": row.source,
            "external_id": row.external_id,
            "sentiment": row.sentiment,
            "relay": row.status,
            "method": row.route_method,
        }
        return web.json_response(answer, status=200 if result.duplicate else 201)

    return handle


def mount(app: web.Application, core, secret: str | None) -> None:
    app.router.add_post("/webhooks/feedback", feedback_handler(core, secret))
