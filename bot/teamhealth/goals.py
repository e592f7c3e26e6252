"""Shared EX/CX goals: `/goals` lists them with progress bars; leads and admins create and edit
them in a form, or in `teamhealth.goals` in the config. Progress is computed live from the data.

A goal reached sends exactly one celebration post per team and goal period: the outbox key
`goal:<id>:reached:<team>:<period>` is stored before sending, so re-runs and several replicas
never post twice.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

from bot.kernel.errors import UserFacingError
from bot.kernel.text import excerpt
from bot.kernel.events import CommandInvoked, FormSubmitted
from bot.kernel.messages import Context, DateInput, Form, Message, Paragraph, Select, Strong, TextInput
from bot.kernel.ports import ChannelPost, Outbound
from bot.teamhealth import access
from bot.teamhealth.catalogue import METRICS, check_target, fmt
from bot.teamhealth.metrics import figures
from bot.teamhealth.rendering import render
from bot.teamhealth.periods import KINDS, Period, containing, today_in
from bot.teamhealth.suppression import minimum
from storage.teamhealth import queries as q
from storage.kernel.db import session, write_unit
from storage.kernel.deliveries import claim_inbound
from storage.directory.queries import team_channel, teams_of
from storage.directory.tables import Team
from storage.kernel.tables import utcnow
from storage.teamhealth.tables import Goal
from bot.kernel.core import FormInvalid, Outcome

log = logging.getLogger(__name__)

FORM_ID = "goals.edit"
CHECK_JOB = "teamhealth.goals_check"
BAR = 10
MAX_TITLE = 120  # goals.title is VARCHAR(120): PostgreSQL refuses a longer one, SQLite would keep it


@dataclass(frozen=True)
class Progress:
    goal: Goal
    period: Period
    value: float | None
    fraction: float | None  # 0..1, None when the value is unknown (no data or suppressed)
    reached: bool


def goal_period(goal: Goal, team: Team, now) -> Period:
    if goal.period:
        return containing(goal.period, today_in(now, team.timezone))
    from datetime import timedelta

    return Period("range", goal.starts_on, (goal.due_on or goal.starts_on) + timedelta(days=1))


def progress(core, s, goal: Goal, team: Team, now) -> Progress:
    period = goal_period(goal, team, now)
    member_ids = q.team_member_ids(s, team.id)
    figs = figures(s, team, period, minimum(core), member_ids, q.people_count(s, team.id), now=now)
    value = figs.value(goal.metric)
    spec = METRICS[goal.metric]
    if value is None:
        return Progress(goal, period, None, None, False)
    if spec.higher_is_better:
        reached = value >= goal.target
        span = goal.target - spec.low
        fraction = 1.0 if reached else max(0.0, (value - spec.low) / span) if span > 0 else 0.0
    else:
        reached = value <= goal.target
        fraction = 1.0 if reached else max(0.0, min(1.0, (spec.high - value) / (spec.high - goal.target))) if spec.high > goal.target else 0.0
    return Progress(goal, period, value, min(fraction, 1.0), reached)


def bar(fraction: float | None, reached: bool = False) -> str:
    if fraction is None:
        return "░" * BAR + " –"
    # Rounding must never show a goal that is not reached as full.
    percent = round(fraction * 100) if reached else min(99, round(fraction * 100))
    filled = BAR if reached else min(BAR - 1, round(fraction * BAR))
    return "▓" * filled + "░" * (BAR - filled) + f" {percent}%"


def describe(p: Progress) -> str:
    when = f"this {p.period.kind}" if p.period.kind in KINDS else f"by {p.goal.due_on.isoformat()}" if p.goal.due_on else ""
    spec = METRICS[p.goal.metric]
    now = fmt(p.goal.metric, p.value) if p.value is not None else "no data yet" if not spec.pulse else "not enough responses or no data"
    tick = " ✅" if p.reached else ""
    target = f"of {fmt(p.goal.metric, p.goal.target)}" if spec.higher_is_better else f"(goal: at most {fmt(p.goal.metric, p.goal.target)})"
    return f"{p.goal.title}: {bar(p.fraction, p.reached)}{tick} — {spec.label} {now} {target} {when} (goal G-{p.goal.id})"


# -- config goals ---------------------------------------------------------------------------------


def sync_config_goals(core) -> None:
    """Mirror `teamhealth.goals` into the database; goals removed from the file are deactivated."""
    wanted = {f"config:{g.key}": g for g in core.org.teamhealth.goals}
    with write_unit(core.engine) as s:
        for key, g in wanted.items():
            team_ids = []
            for slug in g.teams:
                team = q.team_by_slug(s, slug)
                if team is None:
                    log.error("teamhealth goal %s names unknown team %r; that team is skipped", g.key, slug)
                    continue
                team_ids.append(team.id)
            goal = q.goal_by_key(s, key)
            if goal is None:
                goal = Goal(key=key, title=g.title, metric=g.metric, target=g.target, starts_on=core.clock().date(), source="config")
                s.add(goal)
            goal.title, goal.metric, goal.target, goal.period, goal.due_on = g.title, g.metric, g.target, g.period, g.due
            goal.active = True
            goal.updated_at = utcnow()
            s.flush()
            q.set_goal_teams(s, goal.id, team_ids)
        for goal in q.active_goals(s):
            if goal.source == "config" and goal.key not in wanted:
                goal.active = False


# -- commands -------------------------------------------------------------------------------------


def _metric_options() -> tuple[tuple[str, str], ...]:
    return tuple((m.key, m.label) for m in METRICS.values())


def goal_form(goal: Goal | None, team_slugs: list[str], today: date, choices: list[tuple[str, str]] = ()) -> Form:
    """`team_slugs` are preselected; `choices` (slug, name) are the teams the person may pick from."""
    options = tuple(dict.fromkeys([*choices, *((slug, slug) for slug in team_slugs if slug not in dict(choices))]))
    return Form(
        form_id=FORM_ID,
        title="Edit goal" if goal else "New team goal",
        submit_label="Save",
        metadata=str(goal.id) if goal else "new",
        fields=(
            TextInput("title", "Goal", max_length=MAX_TITLE, initial=goal.title if goal else None, placeholder="Happier customers this quarter"),
            Select("metric", "Metric", _metric_options(), initial=goal.metric if goal else None),
            TextInput("target", "Target", max_length=20, initial=f"{goal.target:g}" if goal else None, placeholder="e.g. 4.5 for CSAT, 30 for eNPS"),
            Select("period", "Every", tuple((k, k) for k in KINDS), optional=True, initial=goal.period if goal else "quarter"),
            DateInput("due", "…or by (due date)", optional=True, initial=goal.due_on.isoformat() if goal and goal.due_on else None),
            Select("teams", "Teams", options, multiple=True, initial_values=tuple(team_slugs)),
        ),
    )


def validate(core, s, user, values: dict, today: date) -> tuple[dict, list[Team]]:
    errors: dict[str, str] = {}
    title = " ".join(str(values.get("title") or "").split())
    if not title:
        errors["title"] = "Give the goal a short name."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"Please keep the goal's name at most {MAX_TITLE} characters."
    metric = str(values.get("metric") or "")
    target = None
    if metric not in METRICS:
        errors["metric"] = "Pick a metric from the list."
    raw_target = str(values.get("target") or "").strip().replace(",", ".")
    try:
        target = float(raw_target)
    except ValueError:
        errors["target"] = "The target must be a number."
    if target is not None and metric in METRICS and (problem := check_target(metric, target)):
        errors["target"] = problem[0].upper() + problem[1:] + "."
    period = values.get("period") or None
    if period not in (None, *KINDS):
        errors["period"] = "Pick week, month or quarter."
    due = None
    if values.get("due"):
        try:
            due = date.fromisoformat(str(values["due"])[:10])
        except ValueError:
            errors["due"] = "That is not a date."
        else:
            if due < today:
                errors["due"] = "The due date is in the past."
    if period is None and due is None and "due" not in errors:
        errors["period"] = "Pick a period, or set a due date."
    if period is not None and due is not None:
        errors["due"] = "Choose either a period or a due date, not both."
    teams: list[Team] = []
    raw_teams = values.get("teams")
    if isinstance(raw_teams, list | tuple):  # the team picker
        slugs = [str(t).strip().lower() for t in raw_teams if str(t).strip()]
    else:  # a text answer (cards sent before the picker, or a client without one): keys separated by commas
        slugs = [t.strip().lower() for t in str(raw_teams or "").replace(";", ",").split(",") if t.strip()]
    if not slugs:
        errors["teams"] = "Name at least one team."
    for slug in slugs:
        team = q.team_by_slug(s, slug)
        if team is None or team.slug not in core.org.teams:
            errors["teams"] = f"I don't know a team called “{excerpt(slug)}”. Teams: {', '.join(sorted(core.org.teams))}."
            break
        if not access.may_manage(core, s, user, team):
            errors["teams"] = f"Only {access.who_can(core, s, team)} can set goals for {team.slug}."
            break
        teams.append(team)
    if errors:
        raise FormInvalid(errors)
    return {"title": title, "metric": metric, "target": target, "period": period, "due_on": due}, teams


async def on_command(core, cmd: CommandInvoked):
    words = cmd.raw_text.split()
    user = await access.caller(core, cmd)
    now = core.clock()
    with session(core.engine) as s:
        mine = teams_of(s, user)
        led = led_teams(core, s, user)
        if words and words[0].lower() in ("new", "add", "create"):
            if not led:
                raise UserFacingError("Only team leads and pulsebridge admins can set goals. Ask your team's lead.")
            return Outcome(form=goal_form(None, [t.slug for t in led[:1]], now.date(), [(t.slug, t.name or t.slug) for t in led]))
        if words and words[0].lower() == "edit":
            goal = _goal_from(s, words[1] if len(words) > 1 else "")
            if goal.source == "config":
                raise UserFacingError(f"G-{goal.id} comes from the config file; change it there (teamhealth.goals, key {goal.key[7:]}).")
            teams = [s.get(Team, i) for i in q.goal_team_ids(s, goal.id)]
            if not all(access.may_manage(core, s, user, t) for t in teams):
                raise UserFacingError(f"Only {access.who_can(core, s, teams[0])} can edit this goal.")
            return Outcome(form=goal_form(goal, [t.slug for t in teams], now.date(), [(t.slug, t.name or t.slug) for t in [*teams, *led]]))
        if words:
            raise UserFacingError("Usage: /goals (your team's goals), /goals new, /goals edit G-<n>")
        teams = mine or led
        if not teams:
            return Outcome(reply=Message(summary="You are not in a team yet.", blocks=(Paragraph(("You are not in a team yet, so there are no team goals to show.",)),)))
        blocks, shown = listing(core, s, teams, led, now)
    summary = f"Team goals: {shown}"
    return Outcome(reply=Message(summary=summary, blocks=tuple(blocks)))


def led_teams(core, s, user) -> list[Team]:
    """The teams whose goals this person may set: theirs as a lead, every team for an admin."""
    mine = teams_of(s, user)
    return [t for t in mine if access.may_manage(core, s, user, t)] or (
        [t for t in (q.team_by_slug(s, slug) for slug in core.org.teams) if t] if access.is_admin(core, user) else []
    )


def listing(core, s, teams: list[Team], led: list[Team], now) -> tuple[list, int]:
    """Each team's goals with their progress (the /goals answer and the Home tab); and how many."""
    blocks = []
    shown = 0
    for team in teams:
        blocks.append(Paragraph((Strong(f"Goals of {team.name or team.slug}"),)))
        goals = q.goals_of_team(s, team.id)
        if not goals:
            blocks.append(Context(("No goals yet." + (" Add one with /goals new." if team in led else ""),)))
        for goal in goals:
            blocks.append(Paragraph((describe(progress(core, s, goal, team, now)),)))
        shown += len(goals)
    return blocks, shown


def _goal_from(s, label: str) -> Goal:
    digits = label.strip().upper().removeprefix("G-").removeprefix("G")
    # At most 9 ASCII digits, as for wins: a longer number overflows the id column (SQLite raises
    # OverflowError, PostgreSQL "out of range"), and str.isdigit() also accepts "²", which int() refuses.
    goal = s.get(Goal, int(digits)) if re.fullmatch(r"[0-9]{1,9}", digits) else None
    if goal is None or not goal.active:
        raise UserFacingError(f"There is no goal {excerpt(label) or '(empty)'}. See /goals for the list.")
    return goal


async def on_form(core, submission: FormSubmitted):
    user = await access.caller(core, submission)
    now = core.clock()
    with write_unit(core.engine) as s:
        data, teams = validate(core, s, user, submission.values, now.date())
        if not claim_inbound(s, submission.delivery_key):
            return Outcome(reply=Message(summary="Already saved.", blocks=(Paragraph(("That goal was already saved.",)),)))
        if submission.metadata == "new":
            goal = Goal(key=f"chat:{submission.delivery_key}"[:128], source="chat", created_by=user.id, starts_on=now.date(), **data)
            s.add(goal)
        else:
            goal = _goal_from(s, submission.metadata)
            if goal.source == "config":
                raise UserFacingError("That goal comes from the config file; change it there.")
            old = [s.get(Team, i) for i in q.goal_team_ids(s, goal.id)]
            if not all(access.may_manage(core, s, user, t) for t in old):
                raise UserFacingError(f"Only {access.who_can(core, s, old[0])} can edit this goal.")
            for key, value in data.items():
                setattr(goal, key, value)
            goal.updated_at = utcnow()
        s.flush()
        q.set_goal_teams(s, goal.id, [t.id for t in teams])
        line = describe(progress(core, s, goal, teams[0], now))
    return Outcome(reply=Message(summary=f"Goal saved: {data['title']}", blocks=(Paragraph(("Saved. ",)), Paragraph((line,)))))


# -- celebration ----------------------------------------------------------------------------------


def celebrations(core, now) -> list[Outbound]:
    """One channel post per team and goal period the first time a goal is reached."""
    out: list[Outbound] = []
    with session(core.engine) as s:
        for goal in q.active_goals(s):
            for team_id in q.goal_team_ids(s, goal.id):
                team = s.get(Team, team_id)
                if team is None or team.slug not in core.org.teams:
                    continue
                p = progress(core, s, goal, team, now)
                if not p.reached:
                    continue
                context = {
                    "team": team.name or team.slug,
                    "goal": goal.title,
                    "metric": METRICS[goal.metric].label,
                    "value": fmt(goal.metric, p.value),
                    "target": fmt(goal.metric, goal.target),
                    "period": p.period.label if goal.period else f"by {goal.due_on}",
                }
                message = Message(summary=f"🎉 {team.name or team.slug} reached “{goal.title}”", blocks=render(core, "goal_reached.txt.j2", context))
                for platform in sorted(core.adapters):
                    channel = team_channel(team, platform)
                    if channel:
                        key = f"goal:{goal.id}:reached:{team.slug}:{p.period.label}:{platform}"
                        out.append(Outbound(key=key, destination=ChannelPost(platform, channel), message=message))
    return out


async def check_goals(core) -> None:
    await core.outbox.deliver(celebrations(core, core.clock()))


def schedule(core) -> None:
    sync_config_goals(core)
    if core.scheduler is not None:
        core.scheduler.every("teamhealth-goals-check", CHECK_JOB, seconds=900)


def register(core) -> None:
    core.command("goals", "shared team goals and their progress", "Usage: /goals · /goals new · /goals edit G-<n>", on_command,
                 opens_form=lambda cmd: cmd.raw_text.split()[:1] in (["new"], ["add"], ["create"], ["edit"]))
    core.form(FORM_ID, on_form)
    core.job(CHECK_JOB, check_goals)
    core.on_startup(schedule)
