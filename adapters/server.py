"""One aiohttp process hosting every surface: Slack, Teams and the health check."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.core import PulseBridge
from bot.orgconfig import OrgConfig, load_org_config
from bot.scheduler import Scheduler
from bot.settings import Settings
from storage.db import make_engine, ping

log = logging.getLogger(__name__)

CORE = web.AppKey("core", PulseBridge)


def build_app(
    settings: Settings, *, engine: Engine | None = None, org: OrgConfig | None = None, playground: bool = False
) -> web.Application:
    engine = engine or make_engine(settings.DATABASE_URL)
    core = PulseBridge(engine, org if org is not None else load_org_config(settings.PULSEBRIDGE_CONFIG), settings=settings)
    core.sync_org()

    app = web.Application(client_max_size=1024 * 1024)
    app[CORE] = core
    app.router.add_get("/healthz", _healthz)
    from adapters import webhooks

    webhooks.mount(app, core, settings.FEEDBACK_WEBHOOK_SECRET)

    if settings.slack_enabled:
        from adapters.slack import app as slack_app

        bolt, _ = slack_app.build(settings, core)
        if settings.SLACK_APP_TOKEN:
            app.cleanup_ctx.append(_socket_mode(bolt, settings.SLACK_APP_TOKEN))
        else:
            app.router.add_post("/slack/events", slack_app.http_handler(bolt, settings.SLACK_SIGNING_SECRET or ""))
    else:
        log.warning("SLACK_BOT_TOKEN is not set: Slack is disabled")

    from adapters.teams import bot as teams_bot

    cloud = teams_bot.cloud_adapter(settings)
    core.register(teams_bot.TeamsAdapter(cloud, core, settings.MICROSOFT_APP_ID or ""))
    app.router.add_post("/api/messages", teams_bot.http_handler(cloud, teams_bot.TeamsBot(core)))
    if not settings.MICROSOFT_APP_ID:
        log.warning("MICROSOFT_APP_ID is not set: /api/messages accepts unauthenticated activities (local use only)")
    if playground:
        from adapters.playground.app import mount

        mount(app, core)
    app.cleanup_ctx.append(_lifecycle(core, engine, settings.PULSEBRIDGE_SCHEDULER))
    return app


def _lifecycle(core: PulseBridge, engine: Engine, with_scheduler: bool):
    async def ctx(_app: web.Application):
        core.start(Scheduler(core, engine) if with_scheduler else None)
        yield
        core.stop()

    return ctx


def _socket_mode(bolt, app_token: str):
    async def ctx(_app: web.Application):
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(bolt, app_token)
        await handler.connect_async()
        log.info("Slack Socket Mode connected")
        yield
        await handler.close_async()

    return ctx


async def _healthz(request: web.Request) -> web.Response:
    core = request.app[CORE]
    try:
        ping(core.engine)
    except SQLAlchemyError as exc:
        return web.json_response({"status": "error", "database": "unreachable", "detail": type(exc).__name__}, status=503)
    return web.json_response({"status": "ok", "database": "ok", "backend": core.engine.dialect.name})
