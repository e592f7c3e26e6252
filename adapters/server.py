"""One aiohttp process hosting every surface: Slack, Teams and the health check; /metrics on a listener of its own."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.kernel.core import PulseBridge
from bot.kernel.errors import ConfigError
from bot.kernel.leader import LeaderElection
from bot.kernel.metrics import HTTP_LATENCY, HTTP_REQUESTS, SCHEDULER_LEADER
from bot.app import build_core, load_org_config
from bot.kernel.orgconfig import OrgConfig
from bot.kernel.scheduler import Scheduler
from bot.kernel.settings import Settings, is_loopback
from storage.kernel.db import in_db_thread, make_engine, ping
from bot.directory.sync import sync_org_teams

log = logging.getLogger(__name__)

CORE = web.AppKey("core", PulseBridge)


class MetricsListener:
    """Where /metrics is served once the app has started (None when PULSEBRIDGE_METRICS_LISTEN=off)."""

    def __init__(self) -> None:
        self.url: str | None = None


METRICS = web.AppKey("metrics", MetricsListener)


# The GIL's switch interval for a serving process. The HTTP loop and the intake thread work in short
# bursts between GIL releases (socket reads, SQLite calls); while a worker thread runs Python
# without pause (planning a 20,000-person pulse, rendering a fan-out), each of those re-acquisitions
# waits up to the interval, 5 ms by default, and one ack needs dozens. Measured with
# benchmarks/pulse_open_probe.py (SQLite, /kudos at 50/s during the opening): ack p99 909 ms at
# 5 ms, 217 ms at 1 ms (196 ms with no pulse opening at all).
SWITCH_INTERVAL = 0.001


def build_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    org: OrgConfig | None = None,
    playground: bool = False,
    bind_host: str | None = None,
    teams_credentials=None,
    playground_hosts: tuple[str, ...] = (),
    worker: bool = False,
) -> web.Application:
    """The public app. `bind_host` is the interface it will listen on: the unsigned Teams local mode
    needs it to be loopback. `teams_credentials` replaces the bot's outbound token source (tests).

    `worker`: the scheduled work only (`pulsebridge worker`, PostgreSQL): it campaigns for the
    scheduler lease and sends through Slack and Teams, but serves no platform's requests, only
    /healthz. Web replicas started with PULSEBRIDGE_SCHEDULER=false then spend their interpreter on
    acknowledging and handling requests while a 20,000-person pulse opens and goes out elsewhere
    (benchmarks/README.md, "One process for requests, one for scheduled work").
    """
    sys.setswitchinterval(SWITCH_INTERVAL)
    engine = engine or make_engine(settings.DATABASE_URL)
    if worker:
        if engine.dialect.name == "sqlite":
            raise ConfigError(
                "pulsebridge worker needs PostgreSQL (DATABASE_URL): with SQLite, one `pulsebridge run` process "
                "answers requests and runs the scheduled work"
            )
        settings = settings.model_copy(update={"PULSEBRIDGE_SCHEDULER": True})
    elif settings.teams_mode == "local" and not (bind_host and is_loopback(bind_host)):
        raise ConfigError(
            "PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE: refused unless the server listens on loopback only "
            f"(it accepts unsigned Teams activities); listening on {bind_host or 'an unknown interface'}"
        )
    core = build_core(engine, org if org is not None else load_org_config(settings.PULSEBRIDGE_CONFIG), settings=settings)
    sync_org_teams(core)

    app = web.Application(client_max_size=1024 * 1024, middlewares=[_observe])
    app[CORE] = core
    app.router.add_get("/healthz", _healthz)
    app[METRICS] = MetricsListener()
    if settings.PULSEBRIDGE_METRICS_LISTEN != "off":
        app.cleanup_ctx.append(_metrics_listener(settings, app[METRICS]))
    # Registered first so it is torn down last: Socket Mode disconnects (no new work) before the drain.
    app.cleanup_ctx.append(_lifecycle(core, engine, settings))
    if not worker:
        from adapters import webhooks

        webhooks.mount(app, core, settings.FEEDBACK_WEBHOOK_SECRET)

    if settings.slack_enabled:
        from adapters.slack import app as slack_app

        bolt, slack_adapter = slack_app.build(settings, core)
        # First in, so torn down last: the shutdown drain still sends over kept-alive connections.
        app.cleanup_ctx.insert(0, _slack_connections(slack_adapter))
        if worker:
            log.info("worker: Slack for sending only (its requests go to the web replicas)")
        elif settings.SLACK_APP_TOKEN:
            app.cleanup_ctx.append(_socket_mode(bolt, settings.SLACK_APP_TOKEN))
        else:
            app.router.add_post("/slack/events", slack_app.http_handler(bolt, settings.SLACK_SIGNING_SECRET or ""))
    else:
        log.warning("SLACK_BOT_TOKEN is not set: Slack is disabled")

    if settings.teams_mode is not None:
        from adapters.teams import bot as teams_bot
        from adapters.teams.security import ServiceUrls

        cloud = teams_bot.cloud_adapter(settings, teams_credentials)
        core.register(teams_bot.TeamsAdapter(cloud, core, settings.MICROSOFT_APP_ID or "", ServiceUrls(settings.teams_service_hosts)))
        if not worker:
            app.router.add_post("/api/messages", teams_bot.http_handler(cloud, teams_bot.TeamsBot(core)))
        if settings.teams_mode == "local" and not worker:
            log.warning(
                "PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE is on: /api/messages accepts UNSIGNED activities from anyone "
                "who can reach %s. Never use it for real people.", bind_host
            )
    else:
        log.info("MICROSOFT_APP_ID is not set: Teams is disabled (/api/messages is not served)")
    if playground:
        from adapters.playground.app import mount

        mount(app, core, extra_hosts=playground_hosts)
    return app


def freeze_startup_heap(app: web.Application) -> None:
    """Once the server has started, move every object it holds into the collector's permanent
    generation (`gc.freeze`): the org file, the directory, modules and templates stay for the life
    of the process, yet each full collection walked all of them with the GIL held, stalling every
    request. 148,000 objects with a 20,000-person org file: 105 ms per full collection on the
    2-core benchmark machine, 0.003 ms after the freeze (and a collection at that point frees
    nothing, so nothing collectable is kept). Objects made later are collected as always.
    For serving processes (`pulsebridge run`, `worker`), not for tests building many apps in one.
    """

    async def freeze(_app: web.Application) -> None:
        gc.freeze()
        log.info("start-up heap frozen: %d objects are no longer walked by the garbage collector", gc.get_freeze_count())

    app.on_startup.append(freeze)


def _slack_connections(adapter):
    async def ctx(_app: web.Application):
        await adapter.open_connections()
        yield
        await adapter.close_connections()

    return ctx


def _lifecycle(core: PulseBridge, engine: Engine, settings: Settings):
    """Start the scheduler (in one process only, see bot/kernel/leader.py); on shutdown finish the work in flight.

    aiohttp has stopped accepting connections and waited for open requests by the time the
    teardown runs; what remains are Slack listeners that acked early and scheduled jobs.
    """

    async def ctx(_app: web.Application):
        # Starting and stopping the scheduler reads and writes its job store: on a database
        # thread, so that a lease won or lost while serving never stalls the loop.
        async def elected() -> None:
            await in_db_thread(engine, "scheduler", core.start, Scheduler(core, engine, asyncio.get_running_loop()))
            SCHEDULER_LEADER.set(1)

        async def deposed() -> None:
            await in_db_thread(engine, "scheduler", core.stop)
            SCHEDULER_LEADER.set(0)

        election = None
        if not settings.PULSEBRIDGE_SCHEDULER:
            await in_db_thread(engine, "scheduler", core.start, None)
        elif engine.dialect.name == "sqlite":
            await elected()  # SQLite means one process: always the leader
        else:
            election = LeaderElection(engine, ttl=settings.PULSEBRIDGE_LEADER_LEASE_SECONDS, on_elected=elected, on_deposed=deposed)
            election.start()
        # Requests acknowledged before a crash and not processed: now (SQLite is one process, so
        # every unfinished row was ours); on PostgreSQL rows another replica started long ago.
        await core.resume_accepted(everything=engine.dialect.name == "sqlite")
        yield
        log.info("shutting down: finishing %d handler(s) or job(s) in flight", core.inflight.count)
        if not await core.inflight.drain(settings.PULSEBRIDGE_SHUTDOWN_GRACE):
            log.warning("shutdown grace of %.0fs ran out with %d still running", settings.PULSEBRIDGE_SHUTDOWN_GRACE, core.inflight.count)
        await deposed()
        if election is not None:
            await election.stop()
        core.close()
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


def _metrics_listener(settings: Settings, listener: MetricsListener):
    """Serve /metrics on PULSEBRIDGE_METRICS_LISTEN, apart from the public port: its counters (answer
    clicks, request timings) are live signals an outsider must not read. A bearer token when set."""
    import hmac

    token = settings.PULSEBRIDGE_METRICS_TOKEN
    host, _, port = settings.PULSEBRIDGE_METRICS_LISTEN.rpartition(":")
    host = host.strip("[]")

    async def metrics(request: web.Request) -> web.Response:
        if token:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return web.json_response({"error": "send Authorization: Bearer <PULSEBRIDGE_METRICS_TOKEN>"}, status=401)
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def ctx(_app: web.Application):
        metrics_app = web.Application()
        metrics_app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(metrics_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, int(port))
        await site.start()
        bound = site._server.sockets[0].getsockname()
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        listener.url = f"http://{shown}:{bound[1]}"
        log.info("metrics on %s/metrics", listener.url)
        yield
        await runner.cleanup()

    return ctx


def _socket_mode(bolt, app_token: str):
    async def ctx(_app: web.Application):
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        from adapters.slack.socket_mode import ensure_connectable

        await ensure_connectable(bolt.client, app_token)
        handler = AsyncSocketModeHandler(bolt, app_token)
        await handler.connect_async()
        log.info("Slack Socket Mode connected")
        yield
        await handler.close_async()

    return ctx


async def _healthz(request: web.Request) -> web.Response:
    core = request.app[CORE]
    try:
        await in_db_thread(core.engine, "health", ping, core.engine)  # never on this loop: a busy pool would stall it
    except SQLAlchemyError as exc:
        return web.json_response({"status": "error", "database": "unreachable", "detail": type(exc).__name__}, status=503)
    return web.json_response(
        {"status": "ok", "database": "ok", "backend": core.engine.dialect.name, "scheduler": "running" if core.scheduler else "standby"}
    )
