"""Playground wiring: the ChatAdapter for the browser surface, its responder and HTTP routes.

Its database reads run on a database thread (`in_db_thread`, purpose "playground"), as every
other surface's do: the demo server is the same server, with Slack's and Teams' endpoints on the
same loop once they are configured.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from adapters.playground import render
from adapters.playground.store import PlaygroundStore, Post
from bot.demo import seed as demo
from bot.kernel.core import PulseBridge
from bot.kernel.events import ActionInvoked, CommandInvoked, Conversation, FormSubmitted, MentionToken, MessageHandle, Profile, Token
from bot.kernel.messages import Form, Message, Paragraph, UserRef
from bot.kernel.ports import ChannelPost, Destination, DirectMessage, Roster
from storage.kernel.db import in_db_thread, session
from storage.directory.queries import teams_of
from storage.directory.tables import Team, TeamMember, User

log = logging.getLogger(__name__)

PLATFORM = "playground"
PAGE = Path(__file__).parent / "static" / "index.html"
_MENTION = re.compile(r"@([A-Za-z0-9._-]+)")
MAX_TEXT = 20_000


class PlaygroundAdapter:
    platform = PLATFORM

    def __init__(self, core: PulseBridge, store: PlaygroundStore):
        self.core = core
        self.store = store

    async def send(self, destination: Destination, message: Message) -> MessageHandle:
        if isinstance(destination, DirectMessage):
            conversation = f"dm:{destination.user.external_id}"
        elif isinstance(destination, ChannelPost):
            conversation = destination.channel_id
        else:  # pragma: no cover - closed union
            raise TypeError(destination)
        post = self.store.add(conversation, message)
        return MessageHandle(PLATFORM, conversation, str(post.id))

    async def update(self, handle: MessageHandle, message: Message) -> None:
        self.store.replace(int(handle.message_id), message)

    async def fetch_profile(self, external_id: str) -> Profile | None:
        user = await in_db_thread(self.core.engine, "playground", _person, self.core.engine, external_id)
        if user is None:
            return None
        return Profile(PLATFORM, user.external_id, user.display_name, user.email, user.timezone, user.is_bot, not user.active)

    async def roster(self, *, groups: bool = False) -> Roster:
        """The playground's people live only in our database, so the directory sync finds them unchanged."""
        users = await in_db_thread(self.core.engine, "playground", _everyone, self.core.engine)
        return Roster(tuple(Profile(PLATFORM, u.external_id, u.display_name, u.email, u.timezone, u.is_bot, not u.active) for u in users))


def _person(engine, external_id: str) -> User | None:
    with session(engine) as s:
        return s.execute(select(User).where(User.platform == PLATFORM, User.external_id == external_id)).scalar_one_or_none()


def _everyone(engine) -> list[User]:
    with session(engine) as s:
        return list(s.execute(select(User).where(User.platform == PLATFORM)).scalars().all())


class PlaygroundResponder:
    def __init__(self, store: PlaygroundStore, conversation: str, viewer: str, post_id: int | None = None):
        self.store = store
        self.conversation = conversation
        self.viewer = viewer
        self.post_id = post_id
        self.form_rejected = False

    async def reply(self, message: Message) -> None:
        self.store.add(self.conversation, message, visible_to=self.viewer)

    async def open_form(self, form: Form) -> None:
        self.store.add(self.conversation, form, visible_to=self.viewer)

    async def update(self, message: Message) -> None:
        if self.post_id is not None and self.post_id in self.store.posts:
            self.store.replace(self.post_id, message)
        else:
            await self.reply(message)

    async def form_errors(self, errors: dict[str, str]) -> None:
        self.form_rejected = True
        post = self.store.posts.get(self.post_id) if self.post_id is not None else None
        if post is not None and isinstance(post.content, Form):
            self.store.replace(post.id, post.content, errors)
        else:
            await self.reply(Message(summary=" ".join(errors.values()), blocks=(Paragraph(("⚠️ " + " ".join(errors.values()),)),)))


def people(core: PulseBridge) -> list[dict[str, Any]]:
    with session(core.engine) as s:
        users = s.execute(select(User).where(User.platform == PLATFORM, User.active.is_(True)).order_by(User.display_name)).scalars().all()
        leads = {
            ident
            for ident in s.execute(select(TeamMember.identifier).where(TeamMember.is_lead.is_(True))).scalars()
        }
    return [
        {
            "id": u.external_id, "name": u.display_name, "email": u.email or "",
            "lead": (u.email or "") in leads or f"{PLATFORM}:{u.external_id}" in leads,
        }
        for u in users
    ]


def conversations(core: PulseBridge, viewer: str) -> list[dict[str, Any]]:
    """The viewer's DM with the bot, then every team channel (their own teams first)."""
    with session(core.engine) as s:
        teams = s.execute(select(Team).order_by(Team.slug)).scalars().all()
        user = s.execute(select(User).where(User.platform == PLATFORM, User.external_id == viewer)).scalar_one_or_none()
        mine_ids = {t.id for t in teams_of(s, user)} if user is not None else set()
    channels = [{"id": f"team:{t.slug}", "title": f"#{t.slug}", "subtitle": t.name, "mine": t.id in mine_ids} for t in teams]
    channels.sort(key=lambda c: not c["mine"])
    triage = core.org.feedback.triage_channels.get(PLATFORM)
    if triage:
        triagers = set(core.org.feedback.triagers)
        email = user.email if user is not None else None
        channels.append({"id": triage, "title": "#cx-triage", "subtitle": "customer praise nobody could be matched to",
                         "mine": bool(email and email in triagers)})
    return [{"id": f"dm:{viewer}", "title": "pulsebridge", "subtitle": "direct messages with the bot", "mine": True}] + channels


# Jobs that keep the bot healthy rather than talk to people: not worth a time-travel button.
# The pulse steps run every minute anyway; time travel offers each team's next pulse instead (bot.demo).
HOUSEKEEPING_JOBS = {"outbox.retry", "directory.sync", "pulses.tick", "pulses.close", "pulses.open", "pulses.send", "pulses.remind"}


def _when(at: datetime | None, tz: str | None) -> str:
    """"Fri 4 Dec 16:00 (Europe/Berlin)": when a job would run by itself, in the team's time."""
    if at is None:
        return "not scheduled"
    from bot.kernel.when import zone

    local = at.astimezone(zone(tz))
    return f"{local:%a} {local.day} {local:%b %H:%M} ({tz or 'UTC'})"


def job_label(core: PulseBridge, name: str, kwargs: dict[str, Any], at: datetime | None = None) -> str:
    """A time-travel button in words: what running the job now does, and when it would run anyway."""
    slug = kwargs.get("team")
    team = core.org.teams.get(slug) if isinstance(slug, str) else None
    tz = team.timezone if team else "UTC"
    if name == "recognition.digest" and team is not None:
        from bot.recognition.config import posts_per_kudos

        if posts_per_kudos(team, core.org.recognition):
            return (f"Send {slug}'s weekly recognition digest now: its leads get it by DM; #{slug} gets a post per kudos "
                    f"instead, so nothing is posted there (next: {_when(at, tz)})")
        return f"Post {slug}'s weekly recognition digest to #{slug} and its leads now (next: {_when(at, tz)})"
    if name == "teamhealth.weekly" and team is not None:
        return f"Post {slug}'s weekly team-health update to #{slug} now (next: {_when(at, tz)})"
    if name == "teamhealth.goals_check":
        return "Check every goal now and celebrate the ones just reached (runs every 15 minutes)"
    if name == "retention.purge":
        return f"Blank text older than {core.org.retention.days} days now (runs daily, {_when(at, 'UTC')})"
    details = [str(v) for k, v in kwargs.items() if k != "name" and isinstance(v, str | int)]
    return " · ".join([name.replace(".", " ").replace("_", " "), *details]) + f" (next: {_when(at, tz)})"


def _state(core: PulseBridge, viewer: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """What the page shows `viewer`, read in one go on a database thread: people, conversations, jobs."""
    everyone = people(core)
    convs = conversations(core, viewer) if any(p["id"] == viewer for p in everyone) else []
    return everyone, convs, scheduled_jobs(core)


def scheduled_jobs(core: PulseBridge) -> list[dict[str, Any]]:
    """What time travel offers: the features' scheduled jobs and the demo's shortcuts, soonest first."""
    if core.scheduler is None:
        return []
    never = datetime.max.replace(tzinfo=UTC)
    entries = [
        {"id": j.id, "name": j.kwargs.get("name", j.id), "label": job_label(core, j.kwargs.get("name", j.id), j.kwargs, j.next_run_time), "at": j.next_run_time}
        for j in core.scheduler.apscheduler.get_jobs()
        if j.kwargs.get("name") not in HOUSEKEEPING_JOBS
    ]
    entries += [{"id": sc.id, "name": sc.id, "label": sc.label, "at": sc.at} for sc in demo.time_travel(core)]
    entries.sort(key=lambda e: e["at"] or never)
    for entry in entries:
        at = entry.pop("at")
        entry["next_run"] = at.isoformat() if at else None
    return entries


def parse_command(text: str, known: dict[str, str]) -> tuple[str, tuple] | None:
    """`/kudos @bob for …` → ("kudos", parts); `@handle` becomes a mention of that playground user."""
    text = text.strip()
    word, _, rest = text.partition(" ")
    name = word.lstrip("/").lower()
    if not name:
        return None
    parts: list = []
    pos = 0
    for match in _MENTION.finditer(rest):
        parts.append(Token(rest[pos : match.start()]))
        handle = match.group(1)
        parts.append(MentionToken(UserRef(PLATFORM, handle, known.get(handle, handle))))
        pos = match.end()
    parts.append(Token(rest[pos:]))
    return name, tuple(p for p in parts if not (isinstance(p, Token) and not p.text))


def _post_json(post: Post, viewer_people: list, names: dict[str, str]) -> dict[str, Any]:
    refs = [UserRef(PLATFORM, p["id"], p["name"]) for p in viewer_people]
    if isinstance(post.content, Form):
        html = render.form_html(post.content, post.id, refs, post.errors)
    else:
        html = render.message_html(post.content, post.id, refs)
    return {
        "id": post.id,
        "author": "pulsebridge" if post.author == "bot" else names.get(post.author, post.author),
        "bot": post.author == "bot",
        "ephemeral": post.visible_to is not None,
        "at": post.at.strftime("%H:%M"),
        "html": str(html),
    }


def _json_error(exc: type[web.HTTPException], message: str) -> web.HTTPException:
    return exc(text=json.dumps({"error": message}), content_type="application/json")


def guard(extra_hosts: tuple[str, ...] = ()):
    """Middleware for /playground*: the page has no login, so only this machine's browser may drive it.

    - Host must name loopback (or a name the operator allowed): a DNS-rebinding page on evil.example
      that resolves to 127.0.0.1 still sends `Host: evil.example`.
    - POSTs must say Content-Type: application/json: a cross-site form or `fetch(..., {mode:
      "no-cors"})` can only send text/plain, form or multipart bodies without a CORS preflight.
    """
    from bot.kernel.settings import LOOPBACK_HOSTS, is_loopback

    allowed = {h.lower().strip("[]") for h in (*LOOPBACK_HOSTS, *extra_hosts) if h and h not in ("0.0.0.0", "::")}

    @web.middleware
    async def middleware(request: web.Request, handler):
        if not request.path.startswith("/playground"):
            return await handler(request)
        host = (request.headers.get("Host") or "").strip().lower()
        name = host[1:].partition("]")[0] if host.startswith("[") else host.rpartition(":")[0] if ":" in host else host
        if not name or not (name in allowed or is_loopback(name)):
            raise _json_error(web.HTTPForbidden, "this playground only answers to its own address (Host header refused)")
        if request.method not in ("GET", "HEAD"):
            if request.content_type != "application/json":
                raise _json_error(web.HTTPUnsupportedMediaType, "send Content-Type: application/json")
        return await handler(request)

    return middleware


def routes(core: PulseBridge, store: PlaygroundStore) -> web.RouteTableDef:
    r = web.RouteTableDef()

    async def body(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text='{"error": "body must be JSON"}', content_type="application/json") from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text='{"error": "body must be a JSON object"}', content_type="application/json")
        return data

    async def db(fn, *args):
        return await in_db_thread(core.engine, "playground", fn, *args)

    async def actor(handle: Any) -> tuple[UserRef, Profile]:
        if not isinstance(handle, str):
            raise web.HTTPBadRequest(text='{"error": "choose who you are"}', content_type="application/json")
        user = await db(_person, core.engine, handle)
        if user is None:
            raise web.HTTPBadRequest(text='{"error": "unknown person"}', content_type="application/json")
        profile = Profile(PLATFORM, user.external_id, user.display_name, user.email, user.timezone)
        return UserRef(PLATFORM, user.external_id, user.display_name), profile

    def key(data: dict[str, Any]) -> str:
        client_id = data.get("client_id")
        return f"playground:{client_id if isinstance(client_id, str) and client_id else uuid.uuid4().hex}"

    @r.get("/")
    async def root(_request: web.Request) -> web.Response:
        # The demo prints http://127.0.0.1:8000/: the playground is the only page it has.
        raise web.HTTPFound("/playground")

    @r.get("/playground")
    async def page(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE)

    @r.get("/playground/api/state")
    async def state(request: web.Request) -> web.Response:
        viewer = request.query.get("as", "")
        try:
            since = int(request.query.get("since", "-1"))
        except ValueError:
            since = -1
        await store.wait_for_change(since, timeout=20.0 if since >= 0 else 0)
        everyone, convs, jobs = await db(_state, core, viewer)
        names = {p["id"]: p["name"] for p in everyone}
        for conv in convs:
            conv["posts"] = [_post_json(p, everyone, names) for p in store.visible(conv["id"], viewer)]
        return web.json_response({"as": viewer, "version": store.version, "people": everyone, "conversations": convs, "jobs": jobs})

    @r.post("/playground/api/command")
    async def command(request: web.Request) -> web.Response:
        data = await body(request)
        ref, profile = await actor(data.get("as"))
        text = data.get("text")
        conversation = data.get("conversation") or f"dm:{ref.external_id}"
        if not isinstance(conversation, str) or conversation not in {c["id"] for c in await db(conversations, core, ref.external_id)}:
            raise web.HTTPBadRequest(text='{"error": "you can only write in your own DM or a team channel"}', content_type="application/json")
        if not isinstance(text, str) or not text.strip():
            raise web.HTTPBadRequest(text='{"error": "type a command such as /kudos @bob for …"}', content_type="application/json")
        if len(text) > MAX_TEXT:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_TEXT, actual_size=len(text))
        known = {p["id"]: p["name"] for p in await db(people, core)}
        parsed = parse_command(text, known)
        store.add(conversation, Message(summary=text, blocks=(Paragraph((text,)),)), author=ref.external_id, visible_to=ref.external_id)
        responder = PlaygroundResponder(store, conversation, ref.external_id)
        if parsed is None:
            await responder.reply(core.help_message())
            return web.json_response({"ok": True})
        name, parts = parsed
        kind = "personal" if conversation.startswith("dm:") else "channel"
        cmd = CommandInvoked(PLATFORM, name, parts, ref, Conversation(PLATFORM, conversation, kind), key(data), actor_profile=profile)
        await core.handle_command(cmd, responder)
        return web.json_response({"ok": True})

    @r.post("/playground/api/action")
    async def action(request: web.Request) -> web.Response:
        data = await body(request)
        ref, profile = await actor(data.get("as"))
        post = store.post_for(data.get("post"), ref.external_id)
        if post is None or not isinstance(data.get("action_id"), str):
            raise web.HTTPBadRequest(text='{"error": "that message is gone"}', content_type="application/json")
        handle = MessageHandle(PLATFORM, post.conversation, str(post.id))
        event = ActionInvoked(
            PLATFORM, data["action_id"], str(data.get("value") or ""), ref, key(data), handle,
            Conversation(PLATFORM, post.conversation, "personal" if post.conversation.startswith("dm:") else "channel"),
            actor_profile=profile,
        )
        await core.handle_action(event, PlaygroundResponder(store, post.conversation, ref.external_id, post.id))
        return web.json_response({"ok": True})

    @r.post("/playground/api/form")
    async def form(request: web.Request) -> web.Response:
        data = await body(request)
        ref, profile = await actor(data.get("as"))
        post = store.post_for(data.get("post"), ref.external_id)
        if post is None or not isinstance(post.content, Form):
            raise web.HTTPBadRequest(text='{"error": "that form is gone"}', content_type="application/json")
        values = data.get("values") if isinstance(data.get("values"), dict) else {}
        event = FormSubmitted(
            PLATFORM, post.content.form_id, values, post.content.metadata, ref, key(data),
            Conversation(PLATFORM, post.conversation, "personal" if post.conversation.startswith("dm:") else "channel"),
            actor_profile=profile,
        )
        responder = PlaygroundResponder(store, post.conversation, ref.external_id, post.id)
        await core.handle_form(event, responder)
        if not responder.form_rejected:
            store.remove(post.id)  # like a Slack modal, the form closes once it is accepted
        return web.json_response({"ok": not responder.form_rejected})

    @r.post("/playground/api/tick")
    async def tick(request: web.Request) -> web.Response:
        """Time travel: run a scheduled job now instead of at its next run time."""
        data = await body(request)
        if core.scheduler is None:
            raise web.HTTPConflict(text='{"error": "the scheduler is off"}', content_type="application/json")
        job_id = data.get("job_id") if isinstance(data.get("job_id"), str) else None
        shortcut = next((sc for sc in await db(demo.time_travel, core) if sc.id == job_id), None)
        if shortcut is not None:
            # A pulse opening and its fan-out, on the worker lane the scheduled jobs use (run_job).
            await core.pool.run(shortcut.run, lane=0)
            return web.json_response({"ok": True, "ran": shortcut.label})
        job = await db(core.scheduler.apscheduler.get_job, job_id) if job_id else None
        if job is None:
            raise web.HTTPBadRequest(text='{"error": "no such scheduled job"}', content_type="application/json")
        from bot.kernel.scheduler import run_job

        try:
            await run_job(**job.kwargs)
        except Exception:
            log.exception("time travel: job %s failed", job.id)
            return web.json_response({"error": f"{job.kwargs.get('name')} failed: see the server log"}, status=500)
        return web.json_response({"ok": True, "ran": job_label(core, job.kwargs.get("name", job.id), job.kwargs, job.next_run_time)})

    @r.post("/playground/api/sample-feedback")
    async def sample(request: web.Request) -> web.Response:
        """Send a customer's praise for the viewer through the real signed webhook, over loopback."""
        from aiohttp import ClientSession

        from adapters.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

        data = await body(request)
        ref, _ = await actor(data.get("as"))
        secret = core.settings.FEEDBACK_WEBHOOK_SECRET
        if not secret:
            raise web.HTTPConflict(text='{"error": "set FEEDBACK_WEBHOOK_SECRET to post feedback"}', content_type="application/json")
        person = next(p for p in await db(people, core) if p["id"] == ref.external_id)
        payload = json.dumps(demo.sample_feedback(person, store.version, needs_triage=data.get("triage") is True)).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, payload)}
        # Our own listening socket, never the Host header: that one the browser (or an attacker) chose.
        own = request.transport.get_extra_info("sockname") if request.transport else None
        if not own:
            raise _json_error(web.HTTPConflict, "cannot tell this server's own address")
        address = f"[{own[0]}]" if ":" in own[0] else own[0]
        async with ClientSession() as http, http.post(f"http://{address}:{own[1]}/webhooks/feedback", data=payload, headers=headers) as resp:
            answer = await resp.json(content_type=None)
            status = resp.status
        if status not in (200, 201):
            return web.json_response({"error": f"the webhook answered {status}: {answer.get('error', '')}"}, status=502)
        return web.json_response({"ok": True, "webhook": answer})

    return r


def mount(app: web.Application, core: PulseBridge, extra_hosts: tuple[str, ...] = ()) -> PlaygroundStore:
    store = PlaygroundStore()
    app.middlewares.append(guard(extra_hosts))
    core.register(PlaygroundAdapter(core, store))
    app.router.add_routes(routes(core, store))

    async def release_long_polls(_app: web.Application) -> None:
        store.close()

    app.on_shutdown.append(release_long_polls)
    return store
