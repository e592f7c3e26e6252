"""`/teamhealth [team] [week|month|quarter]`: a team's EX and CX at a glance, for its leads and admins.

Answered privately: Slack replies ephemerally; on Teams, a command typed in a channel is
answered in the caller's personal chat, with only a pointer left in the channel.
"""

from __future__ import annotations

from bot.kernel.errors import UserFacingError
from bot.kernel.events import CommandInvoked
from bot.kernel.messages import Block, Context, Fields, Heading, Message, Paragraph, Strong
from bot.kernel.ports import DirectMessage, Outbound
from bot.teamhealth import access
from bot.teamhealth import goals as goals_mod
from bot.teamhealth.catalogue import fmt
from bot.teamhealth.correlation import describe, lagged
from bot.teamhealth.metrics import Figures, comment_summary, figures, weekly
from bot.teamhealth.periods import KINDS, Period, containing, today_in
from bot.teamhealth.posts import CORRELATION_WEEKS
from bot.teamhealth.sparkline import sparkline
from bot.teamhealth.suppression import NOT_ENOUGH, minimum, participation_text
from storage.pulses.queries import participation_by_pulse
from storage.teamhealth import queries as q
from storage.kernel.db import session
from storage.directory.queries import teams_of
from bot.kernel.core import Outcome

USAGE = "Usage: /teamhealth [team] [week|month|quarter]"
SPARK_WEEKS = 12


def _arrow(now: float | None, before: float | None, digits: int = 0) -> str:
    if now is None or before is None:
        return ""
    delta = now - before
    if round(delta, digits) == 0:
        return " → (no change)"
    return f" {'↑' if delta > 0 else '↓'} ({delta:+.{digits}f} vs previous)"


def _pulse_text(figs: Figures, metric: str, value: float | None) -> str:
    if value is not None:
        return fmt(metric, value)
    if not figs.pulse.available:
        return "no closed pulse in this period"
    return NOT_ENOUGH


def _drivers(cur: Figures, prev: Figures) -> str | None:
    moves = sorted(((d, v - prev.pulse.drivers[d], v) for d, v in cur.pulse.drivers.items() if d in prev.pulse.drivers), key=lambda m: m[1])
    if not moves:
        return None
    up = [f"{d} {v:.1f} ({delta:+.1f})" for d, delta, v in reversed(moves) if delta > 0][:2]
    down = [f"{d} {v:.1f} ({delta:+.1f})" for d, delta, v in moves if delta < 0][:2]
    return f"Drivers up: {', '.join(up) or 'none'} · down: {', '.join(down) or 'none'}"


def default_period(s, team, today) -> Period:
    """The month shown when none is asked for: this one once a pulse in it has closed, else the last.

    Early in a month (on the 1st always) nothing of it has closed yet; a first screen of dashes
    would hide last month's figures, which are the ones a lead wants then.
    """
    month = containing("month", today)
    if q.pulse_atoms(s, team.id, month.start, month.end):
        return month
    return month.previous()


def report(core, s, team, kind: str | None, now) -> Message:
    cfg = core.org.teamhealth
    member_ids = q.team_member_ids(s, team.id)
    people = q.people_count(s, team.id)
    today = today_in(now, team.timezone)
    period = containing(kind, today) if kind else default_period(s, team, today)
    cur = figures(s, team, period, minimum(core), member_ids, people, now=now)
    prev = figures(s, team, period.previous(), minimum(core), member_ids, people, now=now, recognition=False)
    series = weekly(s, team, today, CORRELATION_WEEKS, minimum(core))
    name = team.name or team.slug

    blocks: list[Block] = [Heading(f"Team health: {name} · {period.title}")]
    if kind is None and period.end <= today:
        blocks.append(Context((f"No pulse of {containing('month', today).title} has closed yet, so this is last month; “/teamhealth month” shows this month so far.",)))
    pairs = [
        ("Engagement", _pulse_text(cur, "engagement", cur.pulse.engagement) + _arrow(cur.pulse.engagement, prev.pulse.engagement)),
        ("eNPS", _pulse_text(cur, "enps", cur.pulse.enps) + _arrow(cur.pulse.enps, prev.pulse.enps)),
        # Bucketed per pulse (bot/teamhealth/suppression.py): never an exact count below the minimum.
        ("Participation", participation_text(participation_by_pulse(s, cur.pulse.pulse_ids), minimum(core)) or "no closed pulse in this period"),
    ]
    blocks.append(Fields(tuple(pairs)))
    spark = series.engagement[-SPARK_WEEKS:]
    known = sum(v is not None for v in spark)
    blocks.append(Paragraph(("Engagement, last 12 weeks: ", sparkline(spark, 0, 100), f"  ({known} of 12 weeks with enough responses)")))
    drivers = _drivers(cur, prev)
    if drivers:
        blocks.append(Paragraph((drivers,)))
    (pos, neu, neg), top = comment_summary(s, cur.pulse)
    if pos + neu + neg:
        themes = ", ".join(f"{t} ({n})" for t, n in top) or "none repeated"
        blocks.append(Paragraph((f"Comments: {pos} positive · {neu} neutral · {neg} negative. Frequent themes: {themes}",)))

    rec = cur.recognition
    per_person = f"{cur.kudos_per_person:.1f}" if cur.kudos_per_person is not None else "–"
    quiet = f", {cur.quiet} quiet contributor(s) (nothing in 30 days)" if cur.quiet is not None else ""
    blocks.append(Paragraph((Strong("Recognition: "), f"{rec.received} kudos received ({per_person} per person), {rec.given} given, {rec.wins} customer win(s){quiet}")))
    start, end = period.bounds(team.timezone)
    values = q.top_values(s, member_ids, start, end)
    wins = q.latest_wins(s, member_ids, start, end, limit=2)
    highlights = [f"most recognised for {', '.join('#' + v for v, _ in values)}"] if values else []
    highlights += [f"win {w.label}: {w.customer}" for w in wins]
    if highlights:
        blocks.append(Context(("; ".join(highlights),)))
    c = cur.customer
    cx = [f"{c.customer_kudos} customer kudos"]
    cx.append(f"CSAT {fmt('csat', cur.csat)}{_arrow(cur.csat, prev.csat, 2)}" if cur.csat is not None else "CSAT –")
    cx.append(f"NPS {fmt('nps', cur.nps)}" if cur.nps is not None else "NPS –")
    cx.append(f"{fmt('positive_feedback', cur.positive_share)} of {c.feedback} feedback positive" if c.feedback else "no feedback")
    blocks.append(Paragraph((Strong("Customers: "), ", ".join(cx))))

    goals = q.goals_of_team(s, team.id)
    for goal in goals[:5]:
        blocks.append(Paragraph((goals_mod.describe(goals_mod.progress(core, s, goal, team, now)),)))
    blocks.append(Context((describe(lagged(series.engagement, series.cx, min_points=cfg.correlation_min_weeks), CORRELATION_WEEKS, cfg.correlation_min_weeks),)))
    summary = f"Team health for {name}, {period.title}: engagement {_pulse_text(cur, 'engagement', cur.pulse.engagement)}"
    return Message(summary=summary, blocks=tuple(blocks))


def parse(core, words: list[str]) -> tuple[str | None, str | None]:
    """(team slug or None, period kind or None for the default: see `default_period`)."""
    kind = None
    slug = None
    for word in words:
        w = word.lower()
        if w in KINDS:
            kind = w
        elif slug is None:
            slug = w
        else:
            raise UserFacingError(f"I don't understand “{word}”. {USAGE}")
    return slug, kind


async def on_command(core, cmd: CommandInvoked):
    slug, kind = parse(core, cmd.raw_text.split())
    user = await access.caller(core, cmd)
    now = core.clock()
    with session(core.engine) as s:
        if slug is not None:
            team = access.find_team(core, s, slug)
        else:
            led = [t for t in teams_of(s, user) if access.is_lead(s, user, t)]
            if not led:
                raise UserFacingError(f"Which team? {USAGE}. Only a team's leads and pulsebridge admins can see its health.")
            team = led[0]
        if not access.may_manage(core, s, user, team):
            raise UserFacingError(f"Team health for {team.name or team.slug} is only for {access.who_can(core, s, team)}.")
        message = report(core, s, team, kind, now)
    if cmd.platform == "teams" and cmd.conversation.kind != "personal":
        pointer = Message(summary="Sent privately", blocks=(Paragraph(("I've sent the team health to your personal chat with me.",)),))
        dm = Outbound(key=f"teamhealth:dm:{cmd.delivery_key}", destination=DirectMessage(cmd.actor), message=message)
        return Outcome(reply=pointer, followups=[dm])
    return Outcome(reply=message)


def register(core) -> None:
    core.command("teamhealth", "engagement, recognition and customer health of a team (leads and admins)", USAGE, on_command)
