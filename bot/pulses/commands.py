"""`/pulse` (your open questions again), `/pulse send` (a lead's ad-hoc pulse) and `/pulse results`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bot.kernel.core import FormInvalid, Outcome
from bot.directory.lookup import resolve_profiles, store_profile, user_ref
from bot.kernel.errors import UserFacingError
from bot.kernel.events import CommandInvoked, FormSubmitted
from bot.kernel.leader import LEASE
from bot.kernel.messages import Form, Message, Paragraph, Select, TextInput
from bot.kernel.ports import DirectMessage, handle_to_ref
from bot.pulses import rotation
from bot.pulses.anonymity import participation_while_open, released, secret_of
from bot.pulses.bank import active_questions
from bot.pulses.fanout import PROCESS_TOKEN, MessageCache, delivery_message, fan_out
from bot.pulses.render import local_time, zone
from bot.pulses.results import open_pulse_section, pulse_results, results_message
from bot.pulses.schedule import question_row
from bot.kernel.text import clean
from storage.kernel.db import session, write_unit
from storage.kernel.deliveries import claim_inbound
from storage.kernel.leases import holder_of
from storage.directory.queries import find_user, teams_of
from storage.pulses.tables import Pulse, PulseDelivery, PulseQuestion
from storage.pulses.queries import (
    accounts_of,
    answers_for_pulse,
    claim_delivery,
    add_member_users,
    create_pulse,
    finish_delivery,
    is_lead_of,
    open_deliveries_for,
    open_team_pulses,
    person_of,
    persons_of,
    pulse_by_source,
    question_history,
    questions_of,
    reach,
    recent_pulses,
    respondents_of,
    team_recipients,
)
from storage.directory.tables import Team

log = logging.getLogger(__name__)

USAGE = "Usage: /pulse (your open questions) · /pulse send (leads: ask your team now) · /pulse results (leads)"
CUSTOM_SCALES = (("likert", "Agree/disagree 1–5"), ("mood", "Mood (5 faces)"), ("enps", "0–10"), ("text", "Free text"))
CLOSE_OPTIONS = (("4", "4 hours"), ("24", "1 day"), ("72", "3 days"), ("168", "1 week"))
FANOUT_JOB = "pulses.fanout"
_background: set = set()  # fan-outs started without a scheduler (concurrent futures on the job worker)


async def _actor(core, cmd):
    given = {cmd.actor_profile.external_id: cmd.actor_profile} if cmd.actor_profile else {}
    profiles = await resolve_profiles(core.engine, core.adapters[cmd.platform], [cmd.actor], given)
    profile = profiles.get(cmd.actor.external_id)
    if profile is None:
        raise UserFacingError("I couldn't look up your profile on this workspace; please try again in a minute.")
    with write_unit(core.engine) as s:
        return store_profile(s, profile)


async def show_open(core, cmd: CommandInvoked) -> Outcome:
    """Re-send the caller's open questions; people who joined after a pulse opened get theirs now.

    A person with accounts on both platforms has one delivery per pulse, whichever account asks:
    a second account never gets a second set of questions (or a second vote).
    """
    secret_of(core)
    user = await _actor(core, cmd)
    now = core.clock()
    config = core.org.pulses
    with write_unit(core.engine) as s:
        accounts = accounts_of(s, user)
        mine = open_deliveries_for(s, accounts, now)
        have = {p.id for _, p in mine}
        late = [p for p in open_team_pulses(s, [t.id for t in teams_of(s, user)], now) if p.id not in have]
        for pulse in late:
            history = question_history(s, [user.id], now - timedelta(weeks=config.recur_after_weeks)).get(user.id, {})
            asked = questions_of(s, pulse.id)
            bank = {k: v for k, v in active_questions(config).items() if k in asked} or active_questions(config)
            team = s.get(Team, pulse.team_id) if pulse.team_id else None
            tz = zone(user.timezone, team.timezone if team else "UTC")
            keys = rotation.pick(user.id, bank, history, config, pulse.cycle_date or now.astimezone(tz).date(), pulse.source_key, tz)
            for key in keys:
                if key not in asked:
                    row = question_row(active_questions(config)[key])
                    row.pulse_id = pulse.id
                    s.add(row)
            s.add(PulseDelivery(pulse_id=pulse.id, user_id=user.id, platform=user.platform, question_keys=keys, due_at=now))
        s.flush()
        mine = open_deliveries_for(s, accounts, now)
    if not mine:
        return Outcome(reply=Message("You have no open pulse questions right now.", (Paragraph(("You have no open pulse questions right now. 🎉",)),)))
    adapter = core.adapters[cmd.platform]
    cache = MessageCache(core)
    for delivery, _pulse in mine:
        with session(core.engine) as s:
            message = delivery_message(core, s, cache, delivery, user)
        handle = await adapter.send(DirectMessage(user_ref(user)), message)
        if delivery.user_id != user.id:
            continue  # their other account's delivery: its stored DM (and status) stay as they are
        with write_unit(core.engine) as s:
            # A delivery not yet due goes out now instead of later; either way the newest DM is the one to update.
            if delivery.status in ("pending", "failed"):
                claim_delivery(s, delivery.id, PROCESS_TOKEN)
            finish_delivery(s, delivery.id, platform_ref=handle_to_ref(handle))
    n = len(mine)
    text = f"I've sent you {n} open pulse{'s' if n > 1 else ''} in our direct messages."
    return Outcome(reply=Message(text, (Paragraph((text,)),)))


async def send_form(core, cmd: CommandInvoked) -> Outcome:
    secret_of(core)
    user = await _actor(core, cmd)
    with session(core.engine) as s:
        teams = is_lead_of(s, user)
    if not teams:
        raise UserFacingError("Only team leads can send an ad-hoc pulse (leads are listed in the org config).")
    bank = active_questions(core.org.pulses)
    fields = (
        Select("team", "Team", tuple((t.slug, t.name) for t in teams), initial=teams[0].slug),
        Select("question", "Pick a question from the bank", tuple((qid, q.text[:75]) for qid, q in list(bank.items())[:100]), optional=True),
        TextInput("custom", "…or write your own question", max_length=300, optional=True, placeholder="How are you holding up during the incident?"),
        Select("scale", "Answer scale for your own question", CUSTOM_SCALES, initial="likert", optional=True),
        Select("close", "Closes after", CLOSE_OPTIONS, initial="24"),
    )
    intro = (Paragraph((f"Answers are anonymous; you will see results once the pulse closes, and only if at least {core.org.pulses.min_group_size} people have answered.",)),)
    return Outcome(form=Form("pulse.send", "Ad-hoc pulse", "Send", fields, intro=intro))


async def on_send_form(core, submission: FormSubmitted) -> Outcome:
    secret_of(core)
    config = core.org.pulses
    # Selects arrive as strings from our forms; anything else (a list, an object) is a crafted request
    # and counts as no choice, rather than failing as an unhashable dict key.
    values = {k: v if isinstance(v, str) else None for k, v in submission.values.items()}
    bank = active_questions(config)
    chosen = values.get("question") or None
    custom = clean(values.get("custom") or "")
    scale = values.get("scale") or "likert"
    errors = {}
    if chosen is not None and chosen not in bank:
        errors["question"] = "That question is not in the bank (any more)."
    if not chosen and not custom:
        errors["custom"] = "Pick a bank question or write your own."
    if custom and not 3 <= len(custom) <= 300:
        errors["custom"] = "Your question should be 3 to 300 characters."
    if scale not in dict(CUSTOM_SCALES):
        errors["scale"] = "Pick one of the listed scales."
    close = values.get("close")
    if close not in dict(CLOSE_OPTIONS):
        errors["close"] = "Pick one of the listed durations."
    if errors:
        raise FormInvalid(errors)
    now = core.clock()
    with session(core.engine) as s:
        user = find_user(s, submission.actor.platform, submission.actor.external_id)
        lead_of = {t.slug: t for t in is_lead_of(s, user)} if user else {}
    team = lead_of.get(values.get("team") or "")
    if team is None:
        raise FormInvalid({"team": "You can only send pulses to teams you lead."})
    questions: list[PulseQuestion] = []
    if chosen:
        questions.append(question_row(bank[chosen]))
    if custom:
        questions.append(PulseQuestion(question_key=f"adhoc-{len(questions) + 1}", driver="adhoc", text=custom, scale=scale, choices=[], allow_comment=scale != "text"))
    with write_unit(core.engine) as s:
        if not claim_inbound(s, submission.delivery_key):
            existing = pulse_by_source(s, f"adhoc:{submission.delivery_key}")
            raise UserFacingError("This pulse was already sent." if existing else "This request was already handled.")
        # People, not accounts: the lead's other account is the lead, and is neither asked nor counted.
        me = person_of(s, user)
        add_member_users(s, team.id)
        recipients = team_recipients(s, team.id)
        persons = persons_of(s, [p.id for p in recipients])
        people = [p for p in recipients if persons.get(p.id, p.id) != me]
        if len({persons.get(p.id, p.id) for p in people}) < config.min_group_size:
            raise UserFacingError(
                f"{team.name} has {len(people)} reachable member(s) besides you; a pulse needs at least {config.min_group_size} "
                "so nobody's answer can be singled out. Nothing was sent."
            )
        closes = now + timedelta(hours=int(close))
        pulse = create_pulse(
            s,
            Pulse(source_key=f"adhoc:{submission.delivery_key}", kind="adhoc", team_id=team.id, owner_user_id=user.id, cycle_date=now.date(),
                  opens_at=now, closes_at=closes, remind_at=None, min_group_size=config.min_group_size),
            questions,
            [dict(user_id=p.id, platform=p.platform, question_keys=[q.question_key for q in questions], due_at=now) for p in people],
        )
        pulse_id = pulse.id
        tz = zone(user.timezone, team.timezone)
    start_fanout(core, pulse_id)
    text = f"Sending your pulse to {len(people)} people in {team.name}. It closes {local_time(closes, tz)}; see /pulse results after it closes (shown if {config.min_group_size}+ have answered)."
    return Outcome(reply=Message(text, (Paragraph((text,)),)))


def start_fanout(core, pulse_id: int) -> None:
    """Send an ad-hoc pulse now: as a one-off scheduler job when a scheduler runs (jobs run where
    scheduled jobs run, next to the tick); left to the scheduler's send step (every minute, it sends
    every due delivery) when another replica runs it, so a web replica beside `pulsebridge worker`
    never fans out itself; else as a task in this process."""
    if core.scheduler is not None:
        core.scheduler.once(f"pulses:fanout:{pulse_id}", FANOUT_JOB, at=datetime.now(UTC), kwargs={"pulse_id": pulse_id})
        return
    if core.engine.dialect.name != "sqlite" and holder_of(core.engine, LEASE) is not None:
        log.info("ad-hoc pulse %d planned; the scheduler's replica sends it at its next send step", pulse_id)
        return
    # On the scheduled jobs' worker (bot/core.py WorkPool lanes), where the shared pacers live.
    future = core.pool.submit(lambda: fan_out(core, pulse_id=pulse_id), lane=0)
    _background.add(future)
    future.add_done_callback(_background.discard)


async def fanout_job(core, pulse_id: int, **_kwargs) -> None:
    await fan_out(core, pulse_id=pulse_id)


async def show_results(core, cmd: CommandInvoked) -> Outcome:
    """Closed pulses' results; for open ones only coarse participation (the release rule, bot/pulses/anonymity.py)."""
    user = await _actor(core, cmd)
    now = core.clock()
    with session(core.engine) as s:
        teams = is_lead_of(s, user)
        owners = accounts_of(s, user)
        pulses = recent_pulses(s, team_ids=[t.id for t in teams], owner_id=owners)
        if not teams and not pulses:
            raise UserFacingError("Pulse results are for team leads (listed in the org config).")
        sections = []
        for pulse in pulses:
            team = s.get(Team, pulse.team_id)
            tz = user.timezone or team.timezone
            if released(pulse, now):
                sections.append(pulse_results(pulse, team.name, list(questions_of(s, pulse.id).values()), answers_for_pulse(s, pulse.id), tz))
            else:
                progress = participation_while_open(len(respondents_of(s, pulse.id)), reach(s, pulse.id), pulse.min_group_size)
                sections.append(open_pulse_section(pulse, team.name, list(questions_of(s, pulse.id).values()), progress, tz))
    return Outcome(reply=results_message(sections))


async def on_command(core, cmd: CommandInvoked) -> Outcome:
    sub = cmd.raw_text.strip().lower()
    if sub == "":
        return await show_open(core, cmd)
    if sub == "send":
        return await send_form(core, cmd)
    if sub == "results":
        return await show_results(core, cmd)
    raise UserFacingError(f"I don't know “/pulse {cmd.raw_text.strip()[:40]}”. {USAGE}")


