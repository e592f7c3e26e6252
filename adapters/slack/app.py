"""Bolt wiring: signature checks, routing Slack requests to translators and the core."""

from __future__ import annotations

import logging
import re

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_sdk.signature import SignatureVerifier

from adapters.slack import translate
from adapters.slack.responders import CommandResponder, ViewResponder
from adapters.slack.client import SlackAdapter, make_client
from bot.core import PulseBridge
from bot.directory import store_profile
from bot.settings import Settings
from storage.db import session

log = logging.getLogger(__name__)

COMMANDS = re.compile(r"^/(kudos|win|pulse|teamhealth|goals)$")


def build(settings: Settings, core: PulseBridge) -> tuple[AsyncApp, SlackAdapter]:
    client = make_client(settings.SLACK_BOT_TOKEN or "", settings.SLACK_API_URL, settings.SLACK_MAX_RETRIES)
    app = AsyncApp(
        client=client,
        signing_secret=settings.SLACK_SIGNING_SECRET or "socket-mode",
        request_verification_enabled=not settings.SLACK_APP_TOKEN,
        logger=logging.getLogger("pulsebridge.slack.bolt"),
    )
    adapter = SlackAdapter(client)
    core.register(adapter)

    @app.command(COMMANDS)
    async def on_command(ack, body, respond):
        try:
            cmd = translate.slash_command(body)
        except KeyError as exc:
            await ack(f"That command arrived incomplete (no {exc.args[0]}); please try again.")
            return
        # Ack at once: the core may call users.info (and wait out a 429) before it can answer.
        await ack()
        await core.handle_command(cmd, CommandResponder(client, respond, body.get("trigger_id")))

    @app.action(re.compile(".*"))
    async def on_action(ack, body, respond):
        await ack()
        action = translate.block_action(body)
        await core.handle_action(action, CommandResponder(client, respond, body.get("trigger_id"), action.message))

    @app.view(re.compile(".*"))
    async def on_view(ack, body):
        # No early ack: field errors can only be shown through the ack of this very request.
        responder = ViewResponder(client, ack, body["user"]["id"])
        await core.handle_form(translate.view_submission(body), responder)
        await responder.ack()

    @app.event("user_change")
    @app.event("team_join")
    async def on_user_event(event):
        profile = translate.profile(event["user"])
        with session(core.engine) as s, s.begin():
            store_profile(s, profile)

    return app, adapter


def http_handler(app: AsyncApp, signing_secret: str):
    verifier = SignatureVerifier(signing_secret)

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response({"error": "request body is not valid UTF-8"}, status=400)
        try:
            # Bolt parses the body while building the request, before it checks the signature.
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=dict(request.headers))
            bolt_response = await app.async_dispatch(bolt_request)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if not verifier.is_valid_request(body, dict(request.headers)):
                return web.json_response({"error": "invalid request"}, status=401)
            log.info("malformed Slack request: %s: %s", type(exc).__name__, exc)
            return web.json_response({"error": "malformed Slack request"}, status=400)
        return await to_aiohttp_response(bolt_response)

    return handle
