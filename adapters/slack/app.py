"""Bolt wiring: signature checks, routing Slack requests to translators and the core."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.adapter.aiohttp import to_aiohttp_response

from adapters.bodies import read_limited
from adapters.slack import translate
from adapters.slack.responders import CommandResponder, ViewResponder
from adapters.slack.client import SlackAdapter, make_client
from bot.kernel.core import Busy, PulseBridge
from bot.kernel.events import FormSubmitted
from bot.kernel.personal import on_direct_message, on_home_opened
from bot.directory.lookup import store_profile
from bot.kernel.settings import Settings
from storage.kernel.db import in_db_thread, write_unit

log = logging.getLogger(__name__)

# Slack waits 3 s for a view_submission's ack; this leaves room for the network both ways.
VIEW_ACK_SECONDS = 2.0
MALFORMED = (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError)
# Every slash command Slack sends (only those manifest.yml declares) goes to the core, which knows the
# registered ones and answers any other with its help: a feature's new command needs no edit here.
COMMANDS = re.compile(r"^/")


def build(settings: Settings, core: PulseBridge) -> tuple[AsyncApp, SlackAdapter]:
    client = make_client(settings.SLACK_BOT_TOKEN or "", settings.SLACK_API_URL, settings.SLACK_MAX_RETRIES)
    app = AsyncApp(
        client=client,
        signing_secret=settings.SLACK_SIGNING_SECRET or "socket-mode",
        request_verification_enabled=not settings.SLACK_APP_TOKEN,
        logger=logging.getLogger("pulsebridge.slack.bolt"),
        # Each listener returns right after its ack (the work is on a worker or in a task), and bolt
        # answers with that ack. Otherwise bolt runs the listener as a task and polls every 10 ms for
        # its ack, for up to 3 s from the start of dispatch: 200 requests in flight were 20,000
        # wake-ups a second on the HTTP loop, and an ack that was late past 3 s became a 404.
        process_before_response=True,
    )
    after_ack: set[asyncio.Future] = set()

    def continue_after_ack(work) -> None:
        """Run `work` (a coroutine) on this loop once the listener has returned its ack."""
        task = asyncio.ensure_future(work)
        after_ack.add(task)
        task.add_done_callback(_finished)

    def _finished(task: asyncio.Future) -> None:
        after_ack.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Slack request failed after its ack", exc_info=task.exception())
    adapter = SlackAdapter(client)

    def make_responder(state: dict, event):
        """response_url (valid 30 minutes, so still usable after a restart), views.open with the trigger_id.

        A modal submission taken up again after a restart was acked long ago: it answers by DM.
        """
        if isinstance(event, FormSubmitted):
            return ViewResponder(client, None, state["user_id"])
        respond = AsyncRespond(response_url=state.get("response_url"), proxy=client.proxy, ssl=client.ssl)
        actor = getattr(event, "actor", None)
        return CommandResponder(client, respond, state.get("trigger_id"), getattr(event, "message", None), user_id=actor.external_id if actor else None)

    adapter.make_responder = make_responder
    core.register(adapter)

    @app.error
    async def on_error(error, body):
        # A signed payload of the wrong shape (no actions, no view, a list where a dict belongs)
        # fails in bolt's matchers or our translators: that is the sender's 400, not our 500.
        if isinstance(error, MALFORMED):
            log.warning("malformed Slack payload (%s): %s: %s", (body or {}).get("type") if isinstance(body, dict) else "?", type(error).__name__, str(error)[:200])
            return BoltResponse(status=400, body='{"error": "malformed Slack request"}', headers={"content-type": "application/json"})
        if isinstance(error, Busy):
            # Not recorded, so not acknowledged: Slack retries, or the person sees it failed.
            log.warning("refused a Slack request: %s", error)
            return BoltResponse(status=503, body='{"error": "busy, retry later"}', headers={"content-type": "application/json", "retry-after": "5"})
        log.error("Slack request failed", exc_info=error)
        return None

    @app.command(COMMANDS)
    async def on_command(ack, body):
        try:
            cmd = translate.slash_command(body)
        except KeyError as exc:
            await ack(f"That command arrived incomplete (no {exc.args[0]}); please try again.")
            return
        # Ack once the command is recorded (one small insert, batched with its neighbours); the
        # work runs on a worker, where users.info lookups or a 429 cannot hold up other acks.
        try:
            await core.accept("command", cmd, _responder_state(body))
        except Busy:
            await ack("pulsebridge is busy right now; nothing was saved. Please try again in a minute.")
            return
        await ack()

    @app.action(re.compile(".*"))
    async def on_action(ack, body):
        action = translate.block_action(body)
        await core.accept("action", action, _responder_state(body))  # Busy → 503 (on_error): Slack shows it failed
        await ack()

    @app.view(re.compile(".*"))
    async def on_view(ack, body):
        # Recorded before anything answers it, like a command: once the modal is acked, a crash
        # cannot lose the submission (the restart processes it and answers by DM). The ack itself
        # waits for the handler's answer, since field errors or a next view can only go in it. But
        # Slack shows an error after 3 s, so a handler still busy (looking people up, waiting out a
        # 429) by VIEW_ACK_SECONDS gets the modal closed and answers by DM from then on.
        started = time.monotonic()
        user_id = body["user"]["id"]
        responder = ViewResponder(client, ack, user_id)
        # Busy → 503 (on_error): the modal stays open with the person's input, to submit again.
        if await core.accept("form", translate.view_submission(body), {"user_id": user_id}, responder=responder):
            left = VIEW_ACK_SECONDS - (time.monotonic() - started)
            try:
                await asyncio.wait_for(responder.answered.wait(), max(left, 0.0))
            except TimeoutError:
                pass  # its answers go by DM from now on
        await responder.ack()

    @app.event("message")
    async def on_message(body, context):
        # Only a person's own new DM to the bot is answered (with help); channel messages, edits,
        # bot posts and the bot's own messages are ignored. Retries share the event_id.
        event = translate.direct_message(body, context.get("bot_user_id"))
        if event is not None:
            continue_after_ack(on_direct_message(core, event))

    @app.event("app_home_opened")
    async def on_home(body):
        event = translate.home_opened(body)
        if event is not None:
            continue_after_ack(on_home_opened(core, event, adapter.publish_home))

    @app.event("user_change")
    @app.event("team_join")
    async def on_user_event(event):
        # Off the HTTP loop, on the threads kept for this purpose: the loop never waits on the database.
        continue_after_ack(in_db_thread(core.engine, "directory", _store_profile, core.engine, translate.profile(event["user"])))

    return app, adapter


def _store_profile(engine, profile) -> None:
    with write_unit(engine) as s:
        store_profile(s, profile)


def _responder_state(body: dict) -> dict:
    """What SlackAdapter.responder needs to answer this request later (stored with it)."""
    return {"response_url": body.get("response_url"), "trigger_id": body.get("trigger_id")}


# Slack's own payloads stay far below this (a modal's state, a message with 50 blocks); a larger body
# is refused before anything parses it.
MAX_BODY = 512 * 1024
# Unix seconds: ten digits today. Anything else is not a timestamp Slack sent.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
MAX_AGE_SECONDS = 300


def authentic(secret: str, headers, body: bytes, now: float) -> str | None:
    """None when Slack signed this body recently, else why not (logged, never echoed).

    Checked here, before bolt: bolt and slack_sdk call int() on the timestamp header and answer an
    empty, non-numeric or 5,000-digit one with a 500 and a traceback.
    """
    if not secret.strip():
        return "SLACK_SIGNING_SECRET is not set"
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        return "missing signature headers"
    if not _TIMESTAMP.fullmatch(timestamp) or abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return "stale or invalid timestamp"
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    # Bytes, not str: compare_digest raises TypeError on a non-ASCII str.
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogateescape")):
        return "signature mismatch"
    return None


def http_handler(app: AsyncApp, signing_secret: str):
    async def handle(request: web.Request) -> web.Response:
        raw = await read_limited(request, MAX_BODY)
        if raw is None:
            return web.json_response({"error": f"request body is larger than {MAX_BODY // 1024} KiB"}, status=413)
        problem = authentic(signing_secret, request.headers, raw, time.time())
        if problem is not None:
            log.warning("refused Slack request from %s: %s", request.remote, problem)
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response({"error": "request body is not valid UTF-8"}, status=400)
        try:
            # Bolt parses the body while building the request (and checks the signature again).
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=dict(request.headers))
            bolt_response = await app.async_dispatch(bolt_request)
        except MALFORMED as exc:
            log.info("malformed Slack request: %s: %s", type(exc).__name__, str(exc)[:200])
            return web.json_response({"error": "malformed Slack request"}, status=400)
        return await to_aiohttp_response(bolt_response)

    return handle
