"""`pulsebridge` command line."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.kernel.errors import ConfigError

if TYPE_CHECKING:
    from aiohttp import web

# aiohttp, SQLAlchemy and pydantic-settings are imported by the commands that use them, so
# `pulsebridge --help` (and a mistyped command) answers without loading them (issue 17).


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"pulsebridge: {message}", err=True)
    sys.exit(code)


def _serve(app: web.Application, host: str, port: int, started: str, **kwargs) -> None:
    """web.run_app, with the start-up failures an admin can fix as one line each instead of a traceback."""
    import errno

    from aiohttp import web

    from adapters.slack.socket_mode import SocketModeUnavailable

    try:
        web.run_app(app, host=host, port=port, print=lambda _: click.echo(started), **kwargs)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            _fail(f"port {port} on {host} is already in use (another pulsebridge?): stop it or pass --port")
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
            _fail(f"cannot listen on {host}:{port} ({exc.strerror})")
        raise
    except SocketModeUnavailable as exc:
        _fail(str(exc))
    except ConfigError as exc:
        _fail(str(exc))


def _settings(**overrides):
    """Settings (environment, `.env`, then `overrides`), with every secret registered for log redaction."""
    from sqlalchemy.engine import make_url

    from bot.kernel.logs import REDACTION
    from bot.kernel.settings import load_settings

    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        _fail(str(exc))
    REDACTION.add_secrets(
        settings.SLACK_BOT_TOKEN,
        settings.SLACK_APP_TOKEN,
        settings.SLACK_SIGNING_SECRET,
        settings.MICROSOFT_APP_PASSWORD,
        settings.FEEDBACK_WEBHOOK_SECRET,
        settings.PULSEBRIDGE_SECRET_KEY,
        make_url(settings.DATABASE_URL).password,
    )
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pulsebridge", prog_name="pulsebridge", message="%(prog)s %(version)s")
def main() -> None:
    """pulsebridge: pulses, kudos and customer wins in Slack and Microsoft Teams."""
    from bot.kernel import logs

    logs.configure(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface to listen on.")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--migrate", is_flag=True, help="Apply pending database migrations before starting.")
def run(host: str, port: int, migrate: bool) -> None:
    """Serve Slack (/slack/events), Teams (/api/messages) and /healthz from one process."""
    _start(host, port, migrate=migrate, worker=False)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface for /healthz.")
@click.option("--port", default=3001, show_default=True, type=click.IntRange(1, 65535), help="Port for /healthz.")
def worker(host: str, port: int) -> None:
    """Run the scheduled work only (pulses, reminders, digests, sync, retries), PostgreSQL only.

    Pair it with web replicas started as `PULSEBRIDGE_SCHEDULER=false pulsebridge run`: their requests
    then do not compete with a large pulse going out for one interpreter. Serves /healthz only;
    several workers elect one.
    """
    _start(host, port, migrate=False, worker=True)


def _start(host: str, port: int, *, migrate: bool, worker: bool) -> None:
    from sqlalchemy.exc import OperationalError

    from adapters.check import log_features
    from adapters.server import CORE, build_app, freeze_startup_heap
    from storage.kernel.db import make_engine
    from storage.kernel.migrate import pending_heads, upgrade

    settings = _settings()
    engine = make_engine(settings.DATABASE_URL)
    try:
        if migrate:
            upgrade(settings.DATABASE_URL, engine)
        elif pending_heads(engine):
            _fail("the database schema is out of date: run `pulsebridge db upgrade` (or start with `pulsebridge run --migrate`)")
        app = build_app(settings, engine=engine, bind_host=host, worker=worker)
        freeze_startup_heap(app)
    except ConfigError as exc:
        _fail(str(exc))
    except OperationalError as exc:
        _fail(f"cannot reach the database at DATABASE_URL ({exc.orig.__class__.__name__}: {str(exc.orig).strip().splitlines()[0]})", 1)
    log_features(settings, app[CORE].org)
    what = "pulsebridge worker: scheduled work; /healthz on" if worker else "pulsebridge listening on"
    _serve(app, host, port, f"{what} http://{host}:{port}", shutdown_timeout=settings.PULSEBRIDGE_SHUTDOWN_GRACE)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (the playground has no login).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--database-url", default="sqlite:///pulsebridge-demo.db", show_default=True, help="Where the demo keeps its data.")
@click.option("--reset", is_flag=True, help="Delete the demo data and seed it again.")
@click.option("--i-know-this-is-public", "public", is_flag=True,
              help="Allow a --host other than loopback: anyone who reaches it can act as anyone in the demo.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A Host header name the playground accepts besides loopback and --host (repeatable).")
def demo(host: str, port: int, database_url: str, reset: bool, public: bool, allowed_hosts: tuple[str, ...]) -> None:
    """Try pulsebridge in the browser: a seeded organisation and a playground chat, no Slack or Teams needed."""

    from bot.kernel.settings import is_loopback

    if not is_loopback(host):
        warning = (
            f"WARNING: --host {host} serves the playground beyond this machine. It has no login: anyone who "
            "can reach it can act as any demo person, lead or admin."
        )
        click.echo(click.style(warning, fg="red", bold=True), err=True)
        if not public:
            _fail(f"refusing --host {host}: pass --i-know-this-is-public if you mean it (or use 127.0.0.1)")
    app = demo_app(database_url, reset=reset, bind_host=host, allowed_hosts=allowed_hosts)
    url = f"http://{host}:{port}/"
    _serve(app, host, port, f"pulsebridge demo: open {url}")


def demo_app(database_url: str, *, reset: bool = False, bind_host: str = "127.0.0.1", allowed_hosts: tuple[str, ...] = ()) -> web.Application:
    """The demo server, its database migrated and seeded (again only what is missing unless `reset`)."""
    import os
    import secrets

    from sqlalchemy.exc import OperationalError

    from adapters.server import CORE, build_app
    from bot.demo import seed as demo_data
    from storage.kernel.db import make_engine
    from storage.kernel.migrate import upgrade

    # The "sample customer feedback" button signs its webhook call with this; a fresh one per run unless set.
    webhook_secret = os.environ.get("FEEDBACK_WEBHOOK_SECRET") or secrets.token_hex(16)
    if reset:
        _reset(database_url)
    settings = _settings(
        DATABASE_URL=database_url, SLACK_BOT_TOKEN=None, SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN=None,
        FEEDBACK_WEBHOOK_SECRET=webhook_secret,
        # No metrics listener unless asked for: a demo beside a running bot must not fight over its port.
        PULSEBRIDGE_METRICS_LISTEN=os.environ.get("PULSEBRIDGE_METRICS_LISTEN", "off"),
        PULSEBRIDGE_SECRET_KEY=os.environ.get("PULSEBRIDGE_SECRET_KEY") or _demo_pulse_key(database_url, reset),
    )
    engine = make_engine(settings.DATABASE_URL)
    try:
        upgrade(settings.DATABASE_URL, engine)
        app = build_app(
            settings, engine=engine, org=demo_data.demo_org(), playground=True, bind_host=bind_host,
            playground_hosts=(bind_host, *allowed_hosts),
        )
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


def _reset(url: str) -> None:
    """Drop every demo table so the next upgrade and seed start from nothing."""
    from sqlmodel import SQLModel

    from storage.kernel.db import make_engine
    from storage.schema import import_all_tables

    import_all_tables()
    engine = make_engine(url)
    with engine.begin() as conn:
        SQLModel.metadata.drop_all(conn)
        for table in ("alembic_version", "apscheduler_jobs"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    engine.dispose()


@main.command()
def check() -> None:
    """Check the configuration: settings, database, Slack token, scopes and channels, Teams, org file; list the features on and off.

    Exit status 1 when a check fails or a configured feature lacks something it needs."""
    import asyncio

    from adapters.check import FAILED, run_checks
    from bot.kernel.settings import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        click.echo(f"  {FAILED:<4}  {'settings':<16} {exc}")
        click.echo("pulsebridge check: the settings are invalid; nothing else was checked", err=True)
        sys.exit(1)
    _settings()  # registers the secrets for log redaction
    results, feats = asyncio.run(run_checks(settings))
    click.echo("checks")
    for result in results:
        click.echo(result.line())
    click.echo("features")
    for feature in feats:
        click.echo(feature.line())
    failed = [r for r in results if r.status == FAILED]
    missing = [f for f in feats if f.missing]
    if failed or missing:
        click.echo(f"pulsebridge check: {len(failed)} check(s) failed, {len(missing)} feature(s) missing something", err=True)
        sys.exit(1)
    click.echo("pulsebridge check: all good")


@main.group()
def directory() -> None:
    """People and teams from Slack and Teams."""


@directory.command("sync")
@click.option("--force", is_flag=True, help="Apply the listing even when it would deactivate or re-id more people than directory.max_*_share allow.")
def directory_sync(force: bool) -> None:
    """List everyone on the connected platforms now: upsert profiles, deactivate who left, map user groups.

    A listing that would deactivate more than directory.max_deactivate_share (20 %) of a platform's
    active people, or re-id more than max_id_change_share (5 %), is refused (exit 1) unless --force.
    """
    import asyncio

    from sqlalchemy.exc import OperationalError

    from adapters.server import CORE, build_app
    from bot.directory.sync import sync_all

    settings = _settings()
    engine = _migrated_engine(settings)
    try:
        core = build_app(settings, engine=engine)[CORE]
    except ConfigError as exc:
        _fail(str(exc))
    except OperationalError as exc:
        _fail(f"cannot reach the database at DATABASE_URL ({exc.orig.__class__.__name__})", 1)
    reports = asyncio.run(sync_all(core, force=force))
    for report in reports:
        click.echo(report.line())
    if any(r.refused for r in reports):
        click.echo("If the listing is right (people really left), run `pulsebridge directory sync --force`.", err=True)
    if any(r.error or r.refused for r in reports):
        sys.exit(1)


@main.command("teams-package")
@click.option("--app-id", required=True, help="The bot's Microsoft App ID (a GUID), as in MICROSOFT_APP_ID.")
@click.option("--out", default="pulsebridge-teams.zip", show_default=True, type=click.Path(dir_okay=False), help="Where to write the zip.")
@click.option("--version", "app_version", default=None, help="App package version (x.y.z); raise it for every update you upload. [default: pulsebridge's version]")
@click.option("--website", required=True, help="Your https:// site: the package links <website>/privacy and <website>/terms, which Teams shows everyone who installs it.")
def teams_package(app_id: str, out: str, app_version: str | None, website: str) -> None:
    """Write the Microsoft Teams app package to upload to your tenant (Teams admin center or Developer Portal)."""
    from importlib.metadata import version
    from pathlib import Path

    from urllib.parse import urlsplit

    from adapters.teams.package import write_package

    host = (urlsplit(website.strip()).hostname or "").lower()
    if any(host == d or host.endswith("." + d) for d in ("example.com", "example.org", "example.net")) or host.endswith(".example"):
        _fail(f"--website {website} is an example domain: give your own site, whose /privacy and /terms pages the Teams app links to")
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
    from sqlalchemy.exc import SQLAlchemyError

    from storage.kernel.migrate import upgrade

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
@click.option("--encoding", default=None, metavar="NAME",
              help="The file's text encoding, e.g. cp1252 or latin-1. [default: UTF-8; a CSV that is not UTF-8 is read as Windows-1252, as Excel writes it]")
def feedback_import(file: Path, kind: str | None, default_source: str | None, dry_run: bool, encoding: str | None) -> None:
    """Import a CSV or JSON Lines export of customer feedback (no messages are sent for imports)."""
    import codecs
    import json
    from datetime import UTC, datetime

    from bot.app import load_org_config
    from bot.feedback.importer import Summary, csv_encoding, file_kind, process, read_lines, snapshot

    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            _fail(f"--encoding {encoding}: unknown encoding (try utf-8, cp1252 or latin-1)")
    settings = _settings()
    try:
        config = load_org_config(settings.PULSEBRIDGE_CONFIG).feedback
    except ConfigError as exc:
        _fail(str(exc))
    kind = file_kind(file, kind)
    if encoding is None and kind == "csv":
        encoding = csv_encoding(file)
        if encoding is not None:
            click.echo(f"{file} is not UTF-8: reading it as {encoding} (as Excel writes CSV); pass --encoding to choose another", err=True)
    engine = _migrated_engine(settings)
    lines = list(read_lines(file, kind, default_source, encoding))
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


def _migrated_engine(settings):
    """An engine on an up-to-date schema, or a one-line error (exit 2 outdated, 1 unreachable)."""
    from sqlalchemy.exc import OperationalError

    from storage.kernel.db import make_engine
    from storage.kernel.migrate import pending_heads

    engine = make_engine(settings.DATABASE_URL)
    try:
        if pending_heads(engine):
            _fail("the database schema is out of date: run `pulsebridge db upgrade` first")
    except OperationalError as exc:
        _fail(f"cannot reach the database at DATABASE_URL ({exc.orig.__class__.__name__})", 1)
    return engine


def _org(settings):
    from bot.app import load_org_config

    try:
        return load_org_config(settings.PULSEBRIDGE_CONFIG)
    except ConfigError as exc:
        _fail(str(exc))


@main.command("export")
@click.option("--team", "team_slug", required=True, help="Team key as in PULSEBRIDGE_CONFIG (or a mapped user group).")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("--period", type=click.Choice(["week", "month", "quarter"]), default="month", show_default=True)
@click.option("--periods", "count", type=click.IntRange(1, 520), default=6, show_default=True, help="How many periods, ending with the current one.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="A day in the last period (YYYY-MM-DD). [default: today in the team's timezone]")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of standard output.")
def export(team_slug: str, fmt: str, period: str, count: int, until: datetime | None, out: Path | None) -> None:
    """A team's aggregates per period (counts and averages only; small pulse groups left empty)."""

    from bot.kernel.errors import UserFacingError
    from bot.datarights.export import team_rows, to_csv
    from storage.kernel.db import session

    from bot.app import build_core
    from bot.directory.sync import sync_org_teams
    from bot.pulses.bank import active_questions, builtin_bank

    settings = _settings()
    org = _org(settings)
    engine = _migrated_engine(settings)
    # Before the first `run` the database knows no teams: mirror the org file as `run` does at start.
    # Only then: an export must not change the memberships a running bot keeps.
    if team_slug in org.teams:
        from sqlalchemy import select

        from storage.directory.tables import Team

        with session(engine) as s:
            known = s.execute(select(Team.id).where(Team.slug == team_slug)).first() is not None
        if not known:
            sync_org_teams(build_core(engine, org, settings=settings))
    drivers = tuple(sorted({q.driver for q in [*builtin_bank().values(), *active_questions(org.pulses).values()] if q.scale in ("likert", "mood")}))
    try:
        with session(engine) as s:
            columns, rows = team_rows(s, team_slug, period, count, until.date() if until else None, org.pulses.min_group_size, now=datetime.now(UTC), drivers=drivers)
    except UserFacingError as exc:
        _fail(exc.text)
    finally:
        engine.dispose()
    text = to_csv(columns, rows)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(rows)} period(s) for {team_slug} to {out}", err=True)


@main.group()
def user() -> None:
    """People's personal data."""


@user.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def user_delete(email: str, yes: bool) -> None:
    """Forget a person: their accounts, kudos text, relays, conversations and memberships (aggregates stay)."""
    from bot.kernel.orgconfig import member_identifier
    from storage.kernel.db import session, write_unit
    from bot.kernel.sealed import Sealer
    from storage.datarights.erasure import ErasureIncomplete, erase_person, find_person

    settings = _settings()
    org = _org(settings)
    engine = _migrated_engine(settings)
    email = email.strip().lower()
    with session(engine) as s:
        person = find_person(s, email)
    if person is None:
        engine.dispose()
        click.echo(f"pulsebridge: nobody with the email {email} is known; nothing changed", err=True)
        sys.exit(1)
    accounts = ", ".join(f"{u.platform} {u.external_id}" for u in person.users) or "no chat accounts"
    click.echo(f"{email}: {accounts}; {len(person.memberships)} team membership(s)", err=True)
    if not yes:
        click.confirm("Delete this person's data? This cannot be undone", abort=True, err=True)
    try:
        with write_unit(engine) as s:
            sealer = Sealer(settings.PULSEBRIDGE_SECRET_KEY) if settings.PULSEBRIDGE_SECRET_KEY else None
            report = erase_person(s, email, sealed=sealer)
    except ErasureIncomplete as exc:
        _fail(f"{exc}; nothing was changed", 1)
    finally:
        engine.dispose()
    if report is None:  # deleted by someone else between the look-up and now
        click.echo(f"pulsebridge: nobody with the email {email} is known; nothing changed", err=True)
        sys.exit(1)
    click.echo(f"deleted {email}")
    for line in report.lines():
        click.echo(f"  {line}")
    idents = {email} | {f"{u.platform}:{u.external_id}" for u in person.users}
    listed = sorted(slug for slug, team in org.teams.items() if idents & {member_identifier(m) for m in [*team.members, *team.leads]})
    if listed or idents & set(org.admins):
        where = ", ".join(listed) + (" (admins)" if idents & set(org.admins) else "")
        click.echo(f"warning: PULSEBRIDGE_CONFIG still lists them ({where}); remove them there or the next start adds the membership again", err=True)


@main.group()
def retention() -> None:
    """How long raw text is kept (PULSEBRIDGE_CONFIG `retention: {days: N}`)."""


@retention.command("run")
def retention_run() -> None:
    """Purge raw feedback and pulse comments older than the retention period now (the bot also does it daily)."""
    from bot.datarights.retention import run_purge

    settings = _settings()
    org = _org(settings)
    engine = _migrated_engine(settings)
    try:
        report = run_purge(engine, org.retention, datetime.now(UTC))
    finally:
        engine.dispose()
    click.echo(f"retention {org.retention.days} days: {report.line()}")


if __name__ == "__main__":  # pragma: no cover
    main()
