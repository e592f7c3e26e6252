"""Fixtures: a migrated database per test (SQLite and PostgreSQL), the fakes, and the real server."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import time_machine
from aiohttp import web
from sqlalchemy import text

from adapters.server import build_app
from bot.app import parse_org_config
from bot.kernel.settings import Settings
from storage.kernel.db import make_engine
from storage.kernel.migrate import upgrade
from tests import blockkit_contract
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackAPI

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_SCHEMAS = Path(__file__).resolve().parents[1].parent / "shared" / "schemas"
SIGNING_SECRET = "test-signing-secret"
POSTGRES_ENV = "PULSEBRIDGE_TEST_POSTGRES_URL"

ORG_YAML = """
values: [customer-first, ownership, craft]
admins: [olga@example.com]
teams:
  support:
    name: Customer Support
    slack_channel: C0SUPPORT
    teams_channel: "19:support@thread.tacv2"
    timezone: Europe/Berlin
    leads: [ana@example.com]
    members: [ana@example.com, bob@example.com, carla@example.com]
  platform:
    name: Platform
    slack_channel: C0PLATFORM
    teams_channel: "19:platform@thread.tacv2"
    timezone: America/New_York
    leads: [dan@example.com]
    members: [dan@example.com, erin@example.com]
"""


CLOCK_ENV = "PULSEBRIDGE_TEST_CLOCK"


def pytest_addoption(parser):
    parser.addoption(
        "--clock",
        metavar="INSTANT",
        default=os.environ.get(CLOCK_ENV) or None,
        help=(
            "start every test at INSTANT (ISO 8601 with a UTC offset, e.g. 2027-01-01T00:30+01:00) and let the "
            f"clock tick on from there; also read from ${CLOCK_ENV}. For awkward dates: month starts, 31 Dec, DST days, 29 Feb"
        ),
    )


_travelling = False  # a test is running on the moved clock


def pytest_configure(config):
    config.addinivalue_line("markers", "real_clock(reason): run on the real clock even under --clock")
    config.addinivalue_line("markers", "slow: takes minutes (tests/test_fresh_clone.py installs a fresh clone); deselect with -m \"not slow\"")
    instant = config.getoption("--clock")
    if instant:
        config.pulsebridge_clock = _instant(instant)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise pytest.UsageError(f"--clock {text!r} is not an ISO 8601 date and time, e.g. 2027-01-01T00:30+01:00") from None
    if value.tzinfo is None:
        raise pytest.UsageError(f"--clock {text!r} needs a UTC offset (e.g. +01:00 or Z): a local time alone is ambiguous on DST days")
    return value


def check_adaptive_cards(session) -> None:
    """Every distinct Adaptive Card the bot sent in this run, checked once with Microsoft's own
    `adaptivecards` library (Node, installed by .ci/run into tests/agents_playground)."""
    from tests.fakes.cards import SEEN, library_problems

    cards = list(SEEN.values())
    results = library_problems(cards)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if results is None:
        if cards and os.environ.get("CI"):
            session.exitstatus = 1
            if reporter:
                reporter.write_line("adaptivecards: Node or tests/agents_playground/node_modules missing: CI must check the cards", red=True)
        return
    bad = [(card, problems) for card, problems in zip(cards, results, strict=True) if problems]
    if reporter:
        reporter.write_line(f"adaptivecards: {len(cards)} distinct card(s) checked with Microsoft's library, {len(bad)} with problems")
    if bad:
        session.exitstatus = 1
        for card, problems in bad[:5]:
            if reporter:
                reporter.write_line("; ".join(problems) + " in " + json.dumps(card)[:300], red=True)


def pytest_report_header(config):
    start = getattr(config, "pulsebridge_clock", None)
    return f"clock: every test starts at {start.isoformat()}" if start else None


@pytest.fixture(autouse=True)
def _travel(request):
    """With --clock, the whole process (datetime, time.time; not the monotonic clock the event loop and
    timeouts use) starts each test at that instant: the core's default clock, Slack signatures, the
    scheduler and every table default all see the same moved time."""
    global _travelling
    start = getattr(request.config, "pulsebridge_clock", None)
    if start is None or request.node.get_closest_marker("real_clock"):
        yield
        return
    with time_machine.travel(start, tick=True):
        _travelling = True
        try:
            yield
        finally:
            _travelling = False


def child_env(env: dict[str, str]) -> dict[str, str]:
    """`env` for a child process (the CLI, a server): under --clock its clock is moved as this process's is."""
    if not _travelling:
        return env
    here = str(Path(__file__).parent / "clock_child")
    path = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    # An offset from the real clock, not an instant: two children started a second apart (replicas)
    # must agree on the time, as this process and they do, however long each takes to start.
    offset = time.time() - time_machine.escape_hatch.time.time()
    return {**env, "PYTHONPATH": path, "PULSEBRIDGE_CHILD_CLOCK_OFFSET": repr(offset)}


def fixture_json(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


def teams_card_schema() -> dict[str, Any]:
    """Adaptive Card 1.5 plus the Teams host extensions the bot uses (msteams.entities, choices.data)."""
    from tests.fakes.cards import teams_card_schema as schema

    shared_schema("adaptive-card-1.5.schema.json")  # skips when ../shared/schemas is missing
    return schema()


def shared_schema(name: str) -> dict[str, Any]:
    path = SHARED_SCHEMAS / name
    if not path.is_file():
        pytest.skip(f"{path} not found: the JSON schemas live in ../shared/schemas beside the checkout (CI always has them)")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    """A freshly migrated database: a SQLite file, or a throw-away schema in PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pulsebridge.db'}"
        upgrade(url)
        yield url
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"set {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run the PostgreSQL variant")
    with throwaway_schema(base) as url:
        yield url


@contextmanager
def throwaway_schema(base: str) -> Iterator[str]:
    """A migrated schema of its own in the PostgreSQL at `base`; yields a URL that uses it."""
    schema = f"pb_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as conn:  # an unreachable server fails here, loudly: CI must not skip it
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def pytest_sessionfinish(session, exitstatus):
    blockkit_contract.session_finish(session)
    check_adaptive_cards(session)


@pytest.fixture
async def fake_slack(request):
    """The strict fake Slack Web API. A test fails when the bot sent something Slack would have
    refused (unless it called `expect_refusals()`); what it sent is type-checked at the end."""
    fake = FakeSlackAPI()
    await fake.start()
    for uid, name, email in [
        ("U0ANA", "Ana Lima", "ana@example.com"),
        ("U0BOB", "Bob Stone", "bob@example.com"),
        ("U0CARLA", "Carla Diaz", "carla@example.com"),
        ("U0DAN", "Dan Wu", "dan@example.com"),
        ("U0ERIN", "Erin Park", "erin@example.com"),
    ]:
        fake.add_user(uid, name, email)
    fake.add_user("U0ROBOT", "Deploy Bot", None, is_bot=True)
    yield fake
    await fake.stop()
    for item in fake.payloads:
        blockkit_contract.record(request.node.nodeid, item["method"], item["kind"], item["payload"])
    unexpected = [r for r in fake.refusals if r[1] in ("invalid_blocks", "invalid_arguments", "used_url")]
    if unexpected and not fake.refusals_expected:
        pytest.fail(f"Slack would have refused {len(unexpected)} payload(s) from this test: {unexpected[:3]}", pytrace=False)


@pytest.fixture
async def fake_connector():
    fake = FakeBotConnector()
    await fake.start()
    for mid, name, email in [
        ("29:ana", "Ana Lima", "ana@example.com"),
        ("29:bob", "Bob Stone", "bob@example.com"),
        ("29:dan", "Dan Wu", "dan@example.com"),
    ]:
        fake.add_member(mid, name, email)
    yield fake
    await fake.stop()
    # Every card the bot sent during the test must render in Teams (schema + Teams extensions).
    assert not fake.card_problems, "cards Teams would not render as sent:\n" + "\n".join(fake.card_problems[:10])


class Server:
    """The bot's real aiohttp app on a loopback port, plus helpers that talk to it like the platforms do."""

    def __init__(self, url: str, app: web.Application, settings: Settings, slack: FakeSlackAPI, connector: FakeBotConnector):
        self.url = url
        self.app = app
        self.settings = settings
        self.slack = slack
        self.connector = connector
        from adapters.server import CORE, METRICS

        self.core = app[CORE]
        self.engine = self.core.engine
        self._metrics = app[METRICS]

    @property
    def metrics_url(self) -> str:
        """The separate /metrics listener (PULSEBRIDGE_METRICS_LISTEN), not the public port."""
        assert self._metrics.url, "metrics listener not started"
        return self._metrics.url

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http:
            async with http.post(self.url + path, data=body, headers=headers) as resp:
                return resp.status, await resp.text()

    def slack_headers(self, body: bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET, content_type: str) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        base = b"v0:" + ts.encode() + b":" + body
        signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature, "Content-Type": content_type}

    def slash_body(self, command: str, text: str, user_id: str = "U0ANA", **overrides: str) -> dict[str, str]:
        fields = dict(fixture_json("slack/slash_command.json"))
        fields.update(
            command=command,
            text=text,
            user_id=user_id,
            trigger_id=self.slack.issue_trigger(f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex}"),
            response_url=f"{self.slack.url}/response/{uuid.uuid4().hex}",
        )
        fields.update(overrides)
        return fields

    async def slack_command(self, command: str, text: str, user_id: str = "U0ANA", extra_headers: dict[str, str] | None = None, **overrides: str):
        fields = self.slash_body(command, text, user_id, **overrides)
        body = urlencode(fields).encode()
        headers = self.slack_headers(body, content_type="application/x-www-form-urlencoded")
        headers.update(extra_headers or {})
        status, _ = await self.post("/slack/events", body, headers)
        return status, fields

    async def slack_interaction(self, payload: dict[str, Any]) -> tuple[int, str]:
        """An interactivity request (block_actions, view_submission) exactly as Slack sends it: form field `payload`."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        status, text_ = await self.slack_raw(body)
        self._record_ack(text_)
        return status, text_

    def _record_ack(self, text_: str) -> None:
        """A view the bot returned in the HTTP ack (response_action update/push) is a payload Slack checks too."""
        try:
            answer = json.loads(text_) if text_ else None
        except ValueError:
            return
        if isinstance(answer, dict) and isinstance(answer.get("view"), dict):
            from tests.fakes.blockkit import view_problems

            self.slack.payloads.append({"method": "view_submission ack", "kind": "view", "payload": answer["view"]})
            problems = view_problems(answer["view"])
            if problems:
                self.slack.refusals.append(("view_submission ack", "invalid_arguments", problems))

    def block_actions(self, action_id: str, value: str, *, user_id: str = "U0ANA", channel: str = "D0ANA", message_ts: str = "1700000000.000001") -> dict[str, Any]:
        payload = fixture_json("slack/block_actions.json")
        payload["user"] = {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": "T0001"}
        payload["trigger_id"] = self.slack.issue_trigger(f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex}")
        payload["response_url"] = f"{self.slack.url}/response/{uuid.uuid4().hex}"
        payload["container"].update(channel_id=channel, message_ts=message_ts)
        payload["channel"] = {"id": channel, "name": "directmessage"}
        payload["message"]["ts"] = message_ts
        payload["actions"][0].update(action_id=action_id, value=value, block_id=action_id.split(":")[0])
        return payload

    def view_submission(self, callback_id: str, values: dict[str, dict[str, Any]], *, user_id: str = "U0ANA", private_metadata: str = "") -> dict[str, Any]:
        """`values` maps field id → Slack's state for it, e.g. {"type": "plain_text_input", "value": "x"}."""
        payload = fixture_json("slack/view_submission.json")
        payload["user"] = {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": "T0001"}
        payload["trigger_id"] = self.slack.issue_trigger(f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex}")
        view = payload["view"]
        view["id"] = "V" + uuid.uuid4().hex[:10].upper()
        view["hash"] = uuid.uuid4().hex[:16]
        view["callback_id"] = callback_id
        view["private_metadata"] = private_metadata
        view["state"] = {"values": {field: {field: state} for field, state in values.items()}}
        return payload

    async def slack_raw(self, body: bytes, content_type: str = "application/x-www-form-urlencoded", **kw) -> tuple[int, str]:
        return await self.post("/slack/events", body, self.slack_headers(body, content_type=content_type, **kw))

    def teams_activity(self, text_: str, **kwargs: Any) -> dict[str, Any]:
        return teams_activity(self.connector.url, text_, **kwargs)

    def teams_submit(self, value: dict[str, Any], *, sender: tuple[str, str] = ("29:ana", "Ana Lima"), reply_to_id: str = "act-1", conversation: dict[str, Any] | None = None) -> dict[str, Any]:
        """An Action.Submit from a card: a message activity with `value` and no text."""
        activity = self.teams_activity("", sender=sender, conversation=conversation)
        activity.pop("text", None)
        activity["entities"] = [e for e in activity["entities"] if e.get("type") != "mention"]
        activity["value"] = value
        activity["replyToId"] = reply_to_id
        return activity

    async def teams_search(self, text_: str, dataset: str | dict[str, Any], *, sender: tuple[str, str] = ("29:ana", "Ana Lima"), tenant: str = "tenant-1", top: int = 15) -> list[str]:
        """What a typeahead people picker offers: the `application/search` invoke Teams sends as
        someone types. `dataset` is the name or the card's ChoiceSet; returns the offered ids."""
        if isinstance(dataset, dict):
            dataset = dataset["choices.data"]["dataset"]
        activity = self.teams_activity("", sender=sender, conversation={"conversationType": "personal", "tenantId": tenant, "id": f"a:personal-{sender[0]}"})
        activity.pop("text", None)
        activity["entities"] = []
        activity["channelData"] = {"tenant": {"id": tenant}}
        activity.update(type="invoke", name="application/search", value={"queryText": text_, "dataset": dataset, "queryOptions": {"skip": 0, "top": top}})
        status, body = await self.teams_send(activity)
        assert status == 200, body
        answer = json.loads(body)
        assert answer["type"] == "application/vnd.microsoft.search.searchResponse"
        self.last_search = [(r["title"], r["value"]) for r in answer["value"]["results"]]
        return [value for _, value in self.last_search]

    async def teams_send(self, activity: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, str]:
        return await self.post("/api/messages", json.dumps(activity).encode(), {"Content-Type": "application/json", **(headers or {})})


def teams_activity(service_url: str, text_: str, *, sender: tuple[str, str] = ("29:ana", "Ana Lima"), mentions: list[tuple[str, str]] = (),
                   conversation: dict[str, Any] | None = None, activity_id: str | None = None) -> dict[str, Any]:
    """A message activity as Teams sends it to the bot (the fixture), from `sender`, @mentioning the bot and `mentions`."""
    activity = fixture_json("teams/message_personal.json")
    activity["id"] = activity_id or f"1700000{uuid.uuid4().int % 10**9}"
    activity["serviceUrl"] = service_url
    activity["from"] = {"id": sender[0], "name": sender[1], "aadObjectId": f"aad-{sender[0]}"}
    if conversation:
        activity["conversation"] = conversation
    bot = activity["recipient"]
    entities = [{"type": "mention", "text": f"<at>{bot['name']}</at>", "mentioned": {"id": bot["id"], "name": bot["name"]}}]
    for mid, name in mentions:
        entities.append({"type": "mention", "text": f"<at>{name}</at>", "mentioned": {"id": mid, "name": name}})
    activity["entities"] = entities + [e for e in activity.get("entities", []) if e.get("type") != "mention"]
    activity["text"] = text_
    return activity


def connector_host(connector: FakeBotConnector) -> str:
    """The fake connector's host:port: what tests put on PULSEBRIDGE_TEAMS_SERVICE_HOSTS (loopback, one port)."""
    from urllib.parse import urlsplit

    parts = urlsplit(connector.url)
    return f"{parts.hostname}:{parts.port}"


async def start_server(settings: Settings, slack: FakeSlackAPI, connector: FakeBotConnector, org_yaml: str = ORG_YAML, *, teams_credentials=None, playground: bool = False):
    """The app on 127.0.0.1. Unless the test chose its own allow-list, the Bot Framework hosts the bot may
    call are exactly the fake connector's host:port (so any other loopback port is refused). `playground`
    also mounts the demo playground's routes (adapters/playground) on the same app."""
    if "PULSEBRIDGE_TEAMS_SERVICE_HOSTS" not in settings.model_fields_set:
        settings = Settings(**{**settings.model_dump(exclude_unset=True), "_env_file": None, "PULSEBRIDGE_TEAMS_SERVICE_HOSTS": connector_host(connector)})
    app = build_app(settings, org=parse_org_config(org_yaml), bind_host="127.0.0.1", teams_credentials=teams_credentials, playground=playground)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, Server(f"http://127.0.0.1:{port}", app, settings, slack, connector)


def make_settings(database_url: str, slack_url: str, **overrides: Any) -> Settings:
    values = dict(
        _env_file=None,
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_url + "/api/",
        SLACK_APP_TOKEN=None,
        MICROSOFT_APP_ID=None,
        MICROSOFT_APP_PASSWORD=None,
        PULSEBRIDGE_CONFIG=None,
        SLACK_MAX_RETRIES=3,
        PULSEBRIDGE_SCHEDULER=False,
        # Metrics on a loopback port of their own, chosen by the OS: tests run side by side.
        PULSEBRIDGE_METRICS_LISTEN="127.0.0.1:0",
    )
    # Without credentials the Teams tests run in the explicit, loopback-only unsigned mode; tests
    # that configure MICROSOFT_APP_ID get real JWT checks (tests/test_teams_auth.py).
    if not overrides.get("MICROSOFT_APP_ID"):
        values["PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE"] = True
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def server(database_url, fake_slack, fake_connector):
    runner, srv = await start_server(make_settings(database_url, fake_slack.url), fake_slack, fake_connector)
    yield srv
    await runner.cleanup()
    srv.engine.dispose()


async def wait_for_scheduler(core, timeout: float = 5.0):
    """On PostgreSQL the scheduler starts once this process has won the lease (bot/kernel/leader.py)."""
    import asyncio

    for _ in range(int(timeout / 0.05)):
        if core.scheduler is not None and core.scheduler.ready:
            return core.scheduler
        await asyncio.sleep(0.05)
    raise AssertionError("this process never became the scheduler leader")


async def handled(server, timeout: float = 15.0) -> None:
    """Wait until the bot has finished every handler and job it started (replies and follow-ups sent).

    The observable event for asserting that something did NOT happen: Slack requests and Teams
    messages enter the core's in-flight tracker before their ack (200, 201) is answered, webhook
    requests answer after their handler, so once the requests have their HTTP responses nothing
    more is coming.
    """
    import asyncio

    core = getattr(server, "core", server)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while core.inflight.count:
        if loop.time() > deadline:
            raise AssertionError(f"{core.inflight.count} handler(s) still running after {timeout} s")
        await asyncio.sleep(0.01)
