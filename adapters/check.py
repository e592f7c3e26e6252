"""`pulsebridge check`: what an admin has configured, what works, and what a configured feature still lacks.

Each check is a Result (ok, failed, or not applicable); the feature table says which features are on
and why. The Slack checks call the Web API the bot would use (SLACK_API_URL): `auth.test` for the
token, its `x-oauth-scopes` header for the granted scopes, and `conversations.info` for each
configured channel (`is_member`). Nothing is posted and nothing is stored.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.kernel.errors import ConfigError

log = logging.getLogger(__name__)

# The bot scopes manifest.yml asks for (tests/test_docs.py keeps the three in step: here, the manifest, the README).
SLACK_SCOPES = (
    "channels:read", "chat:write", "commands", "groups:read", "im:history", "im:write",
    "users:read", "users:read.email", "usergroups:read",
)
OK, FAILED, SKIPPED, WARNING = "ok", "FAIL", "--", "warn"
TIMEOUT = aiohttp.ClientTimeout(total=15)


@dataclass
class Result:
    name: str
    status: str
    detail: str

    def line(self) -> str:
        return f"  {self.status:<4}  {self.name:<16} {self.detail}"


@dataclass
class Feature:
    name: str
    on: bool
    reason: str
    missing: list[str] = field(default_factory=list)  # what it needs and lacks: `check` exits 1

    def line(self) -> str:
        state = "on" if self.on else "off"
        needs = f" — missing: {'; '.join(self.missing)}" if self.missing else ""
        return f"  {self.name:<18} {state:<4} {self.reason}{needs}"


def features(settings, org) -> list[Feature]:
    """Which features this configuration turns on, with the reason; no network, no database."""
    out: list[Feature] = []
    if settings.SLACK_BOT_TOKEN:
        mode = "Socket Mode (SLACK_APP_TOKEN)" if settings.SLACK_APP_TOKEN else "HTTP, POST /slack/events"
        out.append(Feature("Slack", True, f"SLACK_BOT_TOKEN set; {mode}"))
    else:
        out.append(Feature("Slack", False, "SLACK_BOT_TOKEN not set"))
    if settings.teams_mode == "signed":
        out.append(Feature("Teams", True, f"MICROSOFT_APP_ID set ({settings.MICROSOFT_APP_TYPE}); POST /api/messages"))
    elif settings.teams_mode == "local":
        out.append(Feature("Teams", True, "PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE: unsigned, loopback only"))
    else:
        out.append(Feature("Teams", False, "MICROSOFT_APP_ID not set"))
    platforms = bool(settings.SLACK_BOT_TOKEN) or settings.teams_mode is not None

    scheduled = sorted(slug for slug, team in org.teams.items() if team.pulse is not None and team.pulse.enabled)
    if not settings.PULSEBRIDGE_SECRET_KEY:
        pulses = Feature("Pulses", False, "PULSEBRIDGE_SECRET_KEY not set (it keys the anonymous respondent ids)")
        if scheduled:
            pulses.missing.append(f"PULSEBRIDGE_SECRET_KEY (teams {', '.join(scheduled)} have a pulse: schedule)")
    elif scheduled:
        pulses = Feature("Pulses", True, f"scheduled for {', '.join(scheduled)}; /pulse send for leads")
    else:
        pulses = Feature("Pulses", True, "no team has a pulse: schedule; ad-hoc /pulse send only")
    out.append(pulses)

    channels = sorted(slug for slug, team in org.teams.items() if team.slack_channel or team.teams_channel)
    if not platforms:
        out.append(Feature("Recognition", False, "no chat platform configured"))
    elif not org.teams:
        out.append(Feature("Recognition", True, "/kudos and /win as DMs only: PULSEBRIDGE_CONFIG names no teams"))
    else:
        where = f"channel posts for {', '.join(channels)}" if channels else "no team has a channel: DMs only"
        out.append(Feature("Recognition", True, f"/kudos, /win; {where}"))

    if settings.FEEDBACK_WEBHOOK_SECRET:
        triage = org.feedback.triage_channels
        note = f"triage in {', '.join(sorted(triage))}" if triage else "no triage channel: unmatched praise is kept as unrouted"
        out.append(Feature("Customer feedback", True, f"POST /webhooks/feedback signed with FEEDBACK_WEBHOOK_SECRET; {note}"))
    else:
        out.append(Feature("Customer feedback", False, "FEEDBACK_WEBHOOK_SECRET not set (the webhook answers 503; `feedback import` still works)"))

    if not org.teams:
        out.append(Feature("Team health", False, "PULSEBRIDGE_CONFIG names no teams"))
    else:
        goals = len(org.teamhealth.goals)
        out.append(Feature("Team health", platforms, f"/teamhealth, /goals, weekly post; {goals} goal(s) in the org file" if platforms else "no chat platform configured"))

    scheduler = settings.PULSEBRIDGE_SCHEDULER
    out.append(Feature("Scheduler", scheduler, "pulses, digests, directory sync, retention" if scheduler else "PULSEBRIDGE_SCHEDULER=false: another process runs the jobs"))
    out.append(Feature("Retention", scheduler, f"raw text blanked after {org.retention.days} days, daily"))
    metrics = settings.PULSEBRIDGE_METRICS_LISTEN
    out.append(Feature("Metrics", metrics != "off", f"/metrics on {metrics}" if metrics != "off" else "PULSEBRIDGE_METRICS_LISTEN=off"))
    return out


def log_features(settings, org) -> None:
    """The feature table as log lines, for `pulsebridge run` at start."""
    for feature in features(settings, org):
        log.info("feature %s: %s (%s)%s", feature.name, "on" if feature.on else "off", feature.reason,
                 f"; missing: {'; '.join(feature.missing)}" if feature.missing else "")


# -- checks ----------------------------------------------------------------------------------------


def check_database(settings) -> Result:
    from sqlalchemy.exc import SQLAlchemyError

    from storage.kernel.db import make_engine
    from storage.kernel.migrate import pending_heads

    from sqlalchemy.engine import make_url

    url = make_url(settings.DATABASE_URL)
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:" and not Path(url.database).exists():
        # Opening it would create an empty file: say what to run instead.
        return Result("database", FAILED, f"no database at {url.database} yet: run `pulsebridge db upgrade` (or `pulsebridge run --migrate`)")
    engine = make_engine(settings.DATABASE_URL)
    try:
        pending = pending_heads(engine)
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", exc)
        return Result("database", FAILED, f"cannot reach DATABASE_URL ({type(orig).__name__}: {str(orig).strip().splitlines()[0][:160] if str(orig).strip() else ''})")
    finally:
        engine.dispose()
    if pending:
        return Result("database", FAILED, f"{engine.dialect.name} reachable, schema out of date: run `pulsebridge db upgrade`")
    return Result("database", OK, f"{engine.dialect.name} reachable, schema up to date")


def check_org(settings) -> tuple[Result, object | None]:
    from bot.app import load_org_config

    path: Path | None = settings.PULSEBRIDGE_CONFIG
    try:
        org = load_org_config(path)
    except ConfigError as exc:
        return Result("org file", FAILED, str(exc)), None
    if path is None:
        return Result("org file", WARNING, "PULSEBRIDGE_CONFIG not set: no teams, channels or leads (copy examples/org.yaml)"), org
    return Result("org file", OK, f"{path}: {len(org.teams)} team(s), {len(org.admins)} admin(s)"), org


def check_teams(settings) -> list[Result]:
    import re

    if settings.teams_mode is None:
        return [Result("teams", SKIPPED, "MICROSOFT_APP_ID not set")]
    if settings.teams_mode == "local":
        return [Result("teams", WARNING, "PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE: unsigned activities; never for real people")]
    guid = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
    results = []
    if not guid.match(settings.MICROSOFT_APP_ID or ""):
        results.append(Result("teams app id", FAILED, "MICROSOFT_APP_ID is not a GUID (Azure Bot → Configuration → Microsoft App ID)"))
    else:
        results.append(Result("teams app id", OK, f"{settings.MICROSOFT_APP_ID} ({settings.MICROSOFT_APP_TYPE})"))
    tenants = settings.teams_tenants
    bad = [t for t in tenants if not guid.match(t)]
    if bad:
        results.append(Result("teams tenants", FAILED, f"not a tenant id (a GUID): {', '.join(bad)}"))
    elif settings.MICROSOFT_APP_TENANT_ID and settings.MICROSOFT_APP_TENANT_ID not in tenants:  # pragma: no cover - teams_tenants includes it
        results.append(Result("teams tenants", FAILED, "MICROSOFT_APP_TENANT_ID is not served"))
    else:
        results.append(Result("teams tenants", OK, ", ".join(tenants)))
    if settings.MICROSOFT_APP_TYPE == "MultiTenant":
        results.append(Result("teams app type", WARNING, "MultiTenant: only bots created before August 2025 can be; new bots are SingleTenant"))
    return results


async def check_slack(settings, org) -> list[Result]:
    if not settings.SLACK_BOT_TOKEN:
        return [Result("slack", SKIPPED, "SLACK_BOT_TOKEN not set")]
    base = settings.SLACK_API_URL
    results: list[Result] = []
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:

        async def call(method: str, token: str, **params: str) -> tuple[dict, dict]:
            async with http.post(base + method, data=params, headers={"Authorization": f"Bearer {token}"}) as resp:
                return await resp.json(content_type=None), dict(resp.headers)

        try:
            auth, headers = await call("auth.test", settings.SLACK_BOT_TOKEN)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as exc:
            return [Result("slack token", FAILED, f"cannot reach Slack at {base} ({type(exc).__name__})")]
        if not auth.get("ok"):
            return [Result("slack token", FAILED, f"auth.test refused SLACK_BOT_TOKEN ({auth.get('error', 'unknown error')}): copy the Bot User OAuth Token again")]
        results.append(Result("slack token", OK, f"auth.test: {auth.get('user', '?')} in {auth.get('team', '?')} ({auth.get('team_id', '?')})"))
        header = {k.lower(): v for k, v in headers.items()}.get("x-oauth-scopes")
        if header is None:
            results.append(Result("slack scopes", WARNING, "Slack sent no x-oauth-scopes header; cannot tell which scopes were granted"))
        else:
            granted = {s.strip() for s in header.split(",") if s.strip()}
            missing = [s for s in SLACK_SCOPES if s not in granted]
            if missing:
                results.append(Result("slack scopes", FAILED, f"missing {', '.join(missing)}: add them (manifest.yml) and reinstall the app"))
            else:
                results.append(Result("slack scopes", OK, f"all {len(SLACK_SCOPES)} the manifest asks for"))

        if settings.SLACK_APP_TOKEN:
            try:
                opened, _ = await call("apps.connections.open", settings.SLACK_APP_TOKEN)
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as exc:
                opened = {"ok": False, "error": type(exc).__name__}
            if opened.get("ok"):
                results.append(Result("slack socket", OK, "SLACK_APP_TOKEN accepted (apps.connections.open)"))
            else:
                results.append(Result("slack socket", FAILED, f"SLACK_APP_TOKEN refused ({opened.get('error')}): an app-level token with connections:write"))

        wanted = [(f"team {slug}", team.slack_channel) for slug, team in sorted(org.teams.items()) if team.slack_channel]
        if org.feedback.triage_channels.get("slack"):
            wanted.append(("triage channel", org.feedback.triage_channels["slack"]))
        for label, channel in wanted:
            try:
                info, _ = await call("conversations.info", settings.SLACK_BOT_TOKEN, channel=channel)
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as exc:
                results.append(Result("slack channel", FAILED, f"{label} {channel}: {type(exc).__name__}"))
                continue
            if not info.get("ok"):
                error = info.get("error", "unknown error")
                hint = " (a wrong id, or a private channel the bot is not in: /invite @pulsebridge there)" if error == "channel_not_found" else ""
                results.append(Result("slack channel", FAILED, f"{label} {channel}: {error}{hint}"))
            elif not info.get("channel", {}).get("is_member"):
                name = info["channel"].get("name", "")
                results.append(Result("slack channel", FAILED, f"{label} {channel} (#{name}): the bot is not a member; /invite @pulsebridge in that channel"))
            else:
                results.append(Result("slack channel", OK, f"{label} {channel} (#{info['channel'].get('name', '')}): the bot is a member"))
    return results


async def run_checks(settings) -> tuple[list[Result], list[Feature]]:
    results = [Result("settings", OK, "valid (environment and .env)")]
    org_result, org = check_org(settings)
    results.append(org_result)
    results.append(await asyncio.to_thread(check_database, settings))
    if org is None:
        from bot.app import OrgConfig

        org = OrgConfig()
    results.extend(await check_slack(settings, org))
    results.extend(check_teams(settings))
    return results, features(settings, org)
