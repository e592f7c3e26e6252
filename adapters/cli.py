"""`pulsebridge` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from aiohttp import web
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot.errors import ConfigError
from bot.settings import load_settings


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"pulsebridge: {message}", err=True)
    sys.exit(code)


def _settings():
    from sqlalchemy.engine import make_url

    from bot.logs import REDACTION

    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(str(exc))
    REDACTION.add_secrets(
        settings.SLACK_BOT_TOKEN,
        settings.SLACK_APP_TOKEN,
        settings.SLACK_SIGNING_SECRET,
        settings.MICROSOFT_APP_PASSWORD,
        settings.FEEDBACK_WEBHOOK_SECRET,
        make_url(settings.DATABASE_URL).password,
    )
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """pulsebridge: pulses, kudos and customer wins in Slack and Microsoft Teams."""
    from bot import logs

    logs.configure(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface to listen on.")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--migrate", is_flag=True, help="Apply pending database migrations before starting.")
def run(host: str, port: int, migrate: bool) -> None:
    """Serve Slack (/slack/events), Teams (/api/messages) and /healthz from one process."""
    from adapters.server import build_app
    from storage.db import make_engine
    from storage.migrate import pending_heads, upgrade

    settings = _settings()
    engine = make_engine(settings.DATABASE_URL)
    try:
        if migrate:
            upgrade(settings.DATABASE_URL, engine)
        elif pending_heads(engine):
            _fail("the database schema is out of date: run `pulsebridge db upgrade` (or start with `pulsebridge run --migrate`)")
        app = build_app(settings, engine=engine)
    except ConfigError as exc:
        _fail(str(exc))
    except OperationalError as exc:
        _fail(f"cannot reach the database at DATABASE_URL ({exc.orig.__class__.__name__}: {str(exc.orig).strip().splitlines()[0]})", 1)
    web.run_app(
        app,
        host=host,
        port=port,
        shutdown_timeout=settings.PULSEBRIDGE_SHUTDOWN_GRACE,
        print=lambda _: click.echo(f"pulsebridge listening on http://{host}:{port}"),
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (the playground has no login).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--database-url", default="sqlite:///pulsebridge-demo.db", show_default=True, help="Where the demo keeps its data.")
@click.option("--reset", is_flag=True, help="Delete the demo data and seed it again.")
def demo(host: str, port: int, database_url: str, reset: bool) -> None:
    """Try pulsebridge in the browser: a seeded organisation and a playground chat, no Slack or Teams needed."""
    app = demo_app(database_url, reset=reset)
    url = f"http://{host}:{port}/playground"
    web.run_app(app, host=host, port=port, print=lambda _: click.echo(f"pulsebridge demo: open {url}"))


def demo_app(database_url: str, *, reset: bool = False) -> web.Application:
    """The demo server, its database migrated and seeded (again only what is missing unless `reset`)."""
    import os
    import secrets

    from adapters.server import CORE, build_app
    from bot import demo as demo_data
    from storage.db import make_engine
    from storage.migrate import upgrade

    # The "sample customer feedback" button signs its webhook call with this; a fresh one per run unless set.
    webhook_secret = os.environ.get("FEEDBACK_WEBHOOK_SECRET") or secrets.token_hex(16)
    if reset:
        _reset(database_url)
    settings = _settings_with(
        DATABASE_URL=database_url, SLACK_BOT_TOKEN=None, SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN=None,
        FEEDBACK_WEBHOOK_SECRET=webhook_secret,
        PULSEBRIDGE_SECRET_KEY=os.environ.get("PULSEBRIDGE_SECRET_KEY") or _demo_pulse_key(database_url, reset),
    )
    engine = make_engine(settings.DATABASE_URL)
    try:
        upgrade(settings.DATABASE_URL, engine)
        app = build_app(settings, engine=engine, org=demo_data.demo_org(), playground=True)
    except OperationalError as exc:
        _fail(f"cannot open the demo database ({str(exc.orig).strip().splitlines()[0]})", 1)
    demo_data.seed(app[CORE])
    return app


def _demo_pulse_key(database_url: str, reset: bool) -> str:
    """Pulses need PULSEBRIDGE_SECRET_KEY. The demo keeps one in a file beside its SQLite database, so
    answers stay deduplicated across restarts. Fine for made-up people; a real deployment sets the
    variable and keeps the key away from the database (see docs/privacy.md)."""
    import secrets

    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return secrets.token_urlsafe(48)
    path = Path(url.database + ".pulse-key")
    if reset or not path.exists():
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _settings_with(**overrides):
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        _fail(str(exc))


def _reset(url: str) -> None:
    """Drop every demo table so the next upgrade and seed start from nothing."""
    from sqlmodel import SQLModel

    from storage.db import make_engine
    from storage.tables import import_all_tables

    import_all_tables()
    engine = make_engine(url)
    with engine.begin() as conn:
        SQLModel.metadata.drop_all(conn)
        for table in ("alembic_version", "apscheduler_jobs"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    engine.dispose()


@main.group()
def directory() -> None:
    """People and teams from Slack and Teams."""


@directory.command("sync")
def directory_sync() -> None:
    """List everyone on the connected platforms now: upsert profiles, deactivate who left, map user groups."""
    import asyncio

    from adapters.server import CORE, build_app
    from bot.directory_sync import sync_all
    from storage.db import make_engine
    from storage.migrate import pending_heads

    settings = _settings()
    engine = make_engine(settings.DATABASE_URL)
    try:
        if pending_heads(engine):
            _fail("the database schema is out of date: run `pulsebridge db upgrade` first")
        core = build_app(settings, engine=engine)[CORE]
    except ConfigError as exc:
        _fail(str(exc))
    except OperationalError as exc:
        _fail(f"cannot reach the database at DATABASE_URL ({exc.orig.__class__.__name__})", 1)
    reports = asyncio.run(sync_all(core))
    for report in reports:
        click.echo(report.line())
    if any(r.error for r in reports):
        sys.exit(1)


@main.command("teams-package")
@click.option("--app-id", required=True, help="The bot's Microsoft App ID (a GUID), as in MICROSOFT_APP_ID.")
@click.option("--out", default="pulsebridge-teams.zip", show_default=True, type=click.Path(dir_okay=False), help="Where to write the zip.")
@click.option("--version", "app_version", default=None, help="App package version (x.y.z); raise it for every update you upload. [default: pulsebridge's version]")
@click.option("--website", default="https://pulsebridge.example.com", show_default=True, help="Your https:// site; /privacy and /terms are linked below it.")
def teams_package(app_id: str, out: str, app_version: str | None, website: str) -> None:
    """Write the Microsoft Teams app package to upload to your tenant (Teams admin center or Developer Portal)."""
    from importlib.metadata import version
    from pathlib import Path

    from adapters.teams.package import write_package

    try:
        path = write_package(Path(out), app_id.strip(), version=app_version or version("pulsebridge"), website=website)
    except ValueError as exc:
        _fail(str(exc))
    click.echo(f"wrote {path}: upload it in Teams (Apps → Manage your apps → Upload an app)")


@main.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations up to the newest schema."""
    from storage.migrate import upgrade

    settings = _settings()
    try:
        upgrade(settings.DATABASE_URL)
    except SQLAlchemyError as exc:
        _fail(f"migration failed: {exc.__class__.__name__}: {str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}", 1)
    click.echo("database schema is up to date")


@main.group()
def feedback() -> None:
    """Customer feedback (the kudos relay)."""


@feedback.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--input-format", "kind", type=click.Choice(["csv", "jsonl"]), help="Default: csv for *.csv, else JSON Lines.")
@click.option("--source", "default_source", help="Source name for rows that have none (generic format).")
@click.option("--dry-run", is_flag=True, help="Print where each record would go, one JSON line each; store nothing.")
def feedback_import(file: Path, kind: str | None, default_source: str | None, dry_run: bool) -> None:
    """Import a CSV or JSON Lines export of customer feedback (no messages are sent for imports)."""
    import json
    from datetime import UTC, datetime

    from bot.feedback.importer import Summary, file_kind, process, read_lines, snapshot
    from bot.orgconfig import load_org_config
    from storage.db import make_engine
    from storage.migrate import pending_heads

    settings = _settings()
    try:
        config = load_org_config(settings.PULSEBRIDGE_CONFIG).feedback
    except ConfigError as exc:
        _fail(str(exc))
    engine = make_engine(settings.DATABASE_URL)
    try:
        if pending_heads(engine):
            _fail("the database schema is out of date: run `pulsebridge db upgrade` first")
    except OperationalError as exc:
        _fail(f"cannot reach the database at DATABASE_URL ({exc.orig.__class__.__name__})", 1)
    lines = list(read_lines(file, file_kind(file, kind), default_source))
    summary = Summary()
    now = datetime.now(UTC)
    directory = snapshot(engine, config)
    with click.progressbar(lines, label="importing" if not dry_run else "checking", file=sys.stderr) as bar:
        for line in bar:
            outcome, reason, preview = process(engine, config, line, dry_run=dry_run, now=now, directory=directory)
            if preview is not None:
                click.echo(json.dumps(preview))
            elif outcome == "rejected":
                summary.rejected.append(reason)
            elif outcome == "duplicate":
                summary.duplicate += 1
            elif outcome == "imported":
                summary.imported += 1
    engine.dispose()
    if dry_run:
        click.echo(f"dry run: {len(lines) - len(summary.rejected)} records checked, nothing stored", err=True)
    else:
        click.echo(f"imported {summary.imported}, duplicate {summary.duplicate}, rejected {len(summary.rejected)}", err=True)
    for reason in summary.rejected:
        click.echo(f"  rejected {reason}", err=True)
    if summary.rejected:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
