"""One aiohttp process hosting every surface: Slack, Teams and the health check."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.core import PulseBridge
from bot.leader import LeaderElection
from bot.metrics import HTTP_LATENCY, HTTP_REQUESTS, SCHEDULER_LEADER
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

    app = web.Application(client_max_size=1024 * 1024, middlewares=[_observe])
    app[CORE] = core
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    # Registered first so it is torn down last: Socket Mode disconnects (no new work) before the drain.
    app.cleanup_ctx.append(_lifecycle(core, engine, settings))
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
    return app


def _lifecycle(core: PulseBridge, engine: Engine, settings: Settings):
    """Start the scheduler (in one process only, see bot/leader.py); on shutdown finish the work in flight.

    aiohttp has stopped accepting connections and waited for open requests by the time the
    teardown runs; what remains are Slack listeners that acked early and scheduled jobs.
    """

    async def ctx(_app: web.Application):
        def elected() -> None:
            core.start(Scheduler(core, engine))
            SCHEDULER_LEADER.set(1)

        def deposed() -> None:
            core.stop()
            SCHEDULER_LEADER.set(0)

        election = None
        if not settings.PULSEBRIDGE_SCHEDULER:
            core.start(None)
        elif engine.dialect.name == "sqlite":
            elected()  # SQLite means one process: always the leader
        else:
            election = LeaderElection(engine, ttl=settings.PULSEBRIDGE_LEADER_LEASE_SECONDS, on_elected=elected, on_deposed=deposed)
            election.start()
        yield
        log.info("shutting down: finishing %d handler(s) or job(s) in flight", core.inflight.count)
        if not await core.inflight.drain(settings.PULSEBRIDGE_SHUTDOWN_GRACE):
            log.warning("shutdown grace of %.0fs ran out with %d still running", settings.PULSEBRIDGE_SHUTDOWN_GRACE, core.inflight.count)
        deposed()
        if election is not None:
            await election.stop()
        engine.dispose()
        log.info("shutdown complete")

    return ctx


@web.middleware
async def _observe(request: web.Request, handler):
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        HTTP_REQUESTS.labels(route, request.method, str(status)).inc()
        HTTP_LATENCY.labels(route).observe(time.perf_counter() - start)


async def _metrics(_request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


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
    return web.json_response(
        {"status": "ok", "database": "ok", "backend": core.engine.dialect.name, "scheduler": "running" if core.scheduler else "standby"}
    )
