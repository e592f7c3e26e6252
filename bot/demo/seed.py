"""The demo organisation: people, teams and four months of history for `pulsebridge demo`.

Seeding is idempotent: every row it writes has a stable key (user handle, kudos source key),
so running it twice leaves one copy. Features add their own history through `SEEDERS`.

History is laid out backwards from the core's clock and is long enough (`HISTORY_WEEKS`) that
every view has data whatever day the demo starts on: the current and previous month and quarter,
the 12-week engagement sparkline and the 16 weeks the EX↔CX line needs.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources

from sqlalchemy import select

from bot.feedback.record import Agent, FeedbackRecord
from bot.feedback.relay import build_directory, ingest
from bot.app import parse_org_config
from bot.kernel.orgconfig import OrgConfig
from bot.kernel.when import zone
from bot.pulses.anonymity import polarity, respondent_key
from bot.pulses.bank import active_questions
from bot.pulses.fanout import fan_out
from bot.pulses.schedule import is_cycle_day, local_due, open_due_cycles, question_row
from storage.kernel.db import session, write_unit
from storage.directory.queries import upsert_user
from storage.feedback.queries import feedback_by_key
from storage.recognition.kudos import insert_kudos, kudos_by_source
from storage.pulses.tables import Pulse, PulseQuestion
from storage.pulses.queries import add_member_users, create_pulse, pulse_by_source, team_by_slug, team_recipients, upsert_answer
from storage.recognition.queries import insert_win, win_by_source
from storage.directory.tables import User

log = logging.getLogger(__name__)

PLATFORM = "playground"
DOMAIN = "demo.pulsebridge.dev"
PEOPLE = [
    ("ana", "Ana Lima", "Europe/Berlin"),
    ("bob", "Bob Stone", "Europe/Berlin"),
    ("carla", "Carla Diaz", "Europe/Madrid"),
    ("dev", "Dev Patel", "Europe/London"),
    ("emma", "Emma Novak", "Europe/Prague"),
    ("femi", "Femi Adeyemi", "Africa/Lagos"),
    ("olga", "Olga Ivanova", "America/New_York"),
    ("priya", "Priya Nair", "America/New_York"),
    ("quinn", "Quinn Murphy", "America/Chicago"),
    ("raj", "Raj Mehta", "America/Los_Angeles"),
    ("sam", "Sam Okafor", "America/New_York"),
    ("tess", "Tess Berg", "America/Denver"),
]
HISTORY_WEEKS = 18  # > 16: the EX↔CX line needs 16 weeks, and the 1st of a month needs the month before
# Nobody ever recognises Dev, so his lead's digest has a quiet contributor to point out.
QUIET = "dev"
REASONS = [
    ("rescuing the Acme renewal with a same-day fix", "customer-first"),
    ("pairing on the flaky billing tests until they were green", "craft"),
    ("owning the incident review and writing it up for everyone", "ownership"),
    ("covering my queue while I was out sick", "kindness"),
    ("turning a furious ticket into a five-star rating", "customer-first"),
    ("shipping the SSO fix before the Globex launch", "ownership"),
]

# (customer, summary, value, contributors, days ago)
WINS = [
    ("Acme Corp", "Renewal saved after the SSO outage", "$120k ARR", ["bob", "carla", "priya"], 3),
    ("Globex", "Launched on the new billing API a week early", "expansion", ["raj", "sam"], 10),
    ("Initech", "Turned a churn-risk escalation into a case study", None, ["emma", "quinn"], 17),
    ("Umbrella Health", "Passed the security review on the first try", "$45k ARR", ["tess", "olga", "femi"], 24),
    ("Hooli", "Migrated 4,000 seats over one weekend", "$80k ARR", ["sam", "tess"], 45),
    ("Acme Corp", "Won the EMEA rollout after a live demo", "expansion", ["carla", "femi"], 66),
    ("Vandelay", "First customer on the new API, live in a week", "$30k ARR", ["priya", "quinn"], 87),
    ("Globex", "Rescued a failed data import before quarter close", None, ["bob", "emma"], 108),
]
# The most recent feedback, written by hand: (customer, account, score on a 1-5 CSAT scale, agent, text, age).
# The first arrived minutes ago, so a month's customer goal has something even on the 1st.
RECENT_FEEDBACK = [
    ("Maria Gomez", "Acme Corp", 5, "bob", "Bob fixed our invoice problem in ten minutes. Brilliant support!", timedelta(minutes=20)),
    ("Tom Reed", "Globex", 5, "carla", "Carla was patient and clear, and the export works perfectly now.", timedelta(days=2)),
    ("Lena Fischer", "Initech", 4, "carla", "Quick, friendly answer and a workaround that actually helped.", timedelta(days=5, hours=1)),
    ("Kenji Sato", "Umbrella Health", 2, "emma", "It took three days to get a reply.", timedelta(days=8, hours=2)),
    ("Amara Obi", "Acme Corp", 5, "femi", "Femi went above and beyond to get our team onboarded.", timedelta(days=11, hours=3)),
    ("Noah Berg", "Hooli", 5, "emma", "Emma explained the SSO setup better than our own IT team.", timedelta(days=14, hours=4)),
    ("Sofia Rossi", "Globex", 3, "bob", "Solved in the end, but I had to repeat myself.", timedelta(days=17, hours=5)),
    ("Liam Chen", "Initech", 5, "carla", "Fantastic help, thank you Carla!", timedelta(days=20, hours=6)),
]

# How each team's mood drifts over the history (first and last week's mean answer on the 1-5 scale):
# support is recovering after a hard quarter, platform is sliding under an on-call load, and their
# customers follow a week later, so /teamhealth and the EX↔CX line have a story to tell.
TRENDS = {"support": (2.9, 4.1), "platform": (4.2, 3.1)}
AGENTS = {"support": ["bob", "carla", "emma", "femi"], "platform": ["priya", "quinn", "raj", "sam", "tess"]}
PRAISE = [
    "Thanks {first}, that was quick and clear.",
    "{first} sorted it out in one call. Great service!",
    "Really helpful answer from {first}, thank you.",
    "Excellent support, {first} went the extra mile.",
]
CRITICISM = [
    "I waited two days for an answer.",
    "The fix did not work and nobody followed up.",
    "Had to explain the problem three times.",
    "Slow and confusing, the ticket was closed too early.",
]
CUSTOMERS = [("Ines Duarte", "Acme Corp"), ("Marek Wolny", "Globex"), ("Yuki Tanaka", "Initech"), ("Omar Haddad", "Umbrella Health"), ("Ruth Adler", "Hooli")]


def trend(slug: str, week: int, weeks: int = HISTORY_WEEKS) -> float:
    """The team's mean answer in history week `week` (0 = oldest), on a straight line between its ends."""
    first, last = TRENDS.get(slug, (3.5, 3.5))
    return first + (last - first) * week / max(weeks - 1, 1)


def _feedback_history() -> list[tuple]:
    """Older feedback, a few a week per team, more positive when the team's mood a week earlier was good."""
    rng = random.Random(7)
    rows = []
    for week in range(HISTORY_WEEKS):
        age_weeks = HISTORY_WEEKS - 1 - week
        for slug, agents in AGENTS.items():
            if slug == "support" and age_weeks < 3:
                continue  # support's last three weeks are RECENT_FEEDBACK's
            happy = (trend(slug, max(week - 1, 0)) - 1) / 4
            for n in range(3 if slug == "support" else 2):
                agent = rng.choice(agents)
                customer, account = rng.choice(CUSTOMERS)
                if rng.random() < happy:
                    score, text = rng.choice((4, 5)), rng.choice(PRAISE).format(first=agent.capitalize())
                else:
                    score, text = rng.choice((1, 2, 3)), rng.choice(CRITICISM)
                rows.append((customer, account, score, agent, text, timedelta(weeks=age_weeks, days=n * 2, hours=rng.randint(1, 9))))
    return rows


# Every seeded piece of feedback: (customer, account, score, agent, text, age). Low scores are stored, never relayed.
FEEDBACK = RECENT_FEEDBACK + _feedback_history()

SAMPLE_FEEDBACK = [
    ("Grace Hopper", "Acme Corp", 5, "Thanks {first}! You sorted out our SSO in one call. Best support we have had."),
    ("Alan Turing", "Globex", 5, "{first} was wonderful: patient, clear and fast."),
    ("Ada Lovelace", "Initech", 4, "Great help from {first} today, the export finally works."),
]


# Praise that names nobody and comes without an agent: routing cannot tell who earned it, so it goes to triage.
UNATTRIBUTED_FEEDBACK = ("Hannah Ortiz", "Northwind", 5, "Whoever picked up our chat at 2 a.m. saved our launch. Please thank them!")


def sample_feedback(person: dict, n: int, *, needs_triage: bool = False) -> dict:
    """A generic-format webhook body praising `person`, as a support tool would send it (or, with
    `needs_triage`, praising nobody the bot can name)."""
    if needs_triage:
        customer, account, score, text = UNATTRIBUTED_FEEDBACK
        return {"source": "playground", "id": f"sample-{uuid.uuid4().hex[:12]}", "customer": {"name": customer, "account": account},
                "score": score, "scale": "csat5", "text": text}
    customer, account, score, text = SAMPLE_FEEDBACK[n % len(SAMPLE_FEEDBACK)]
    return {
        "source": "playground",
        "id": f"sample-{uuid.uuid4().hex[:12]}",
        "customer": {"name": customer, "account": account},
        "score": score,
        "scale": "csat5",
        "text": text.format(first=person["name"].split()[0]),
        "agent": {"email": person["email"], "name": person["name"]},
    }


# Features register functions that add their own demo history: seeder(core, rng) -> None.
SEEDERS: list[Callable] = []


def demo_org() -> OrgConfig:
    text = resources.files("bot.demo").joinpath("demo_org.yaml").read_text(encoding="utf-8")
    return parse_org_config(text, "demo_org.yaml")


def seed(core, days: int = HISTORY_WEEKS * 7) -> None:
    rng = random.Random(42)
    now = core.clock()
    with write_unit(core.engine) as s:
        users = {
            handle: upsert_user(s, platform=PLATFORM, external_id=handle, display_name=name, email=f"{handle}@{DOMAIN}", timezone=tz)
            for handle, name, tz in PEOPLE
        }
        handles = list(users)
        for day in range(days, 0, -1):
            for n in range(rng.randint(0, 2)):
                # Draw before checking for an existing row so every run walks the same random sequence.
                giver = rng.choice(handles)
                recipient = rng.choice([h for h in handles if h not in (giver, QUIET)])
                reason, value = rng.choice(REASONS)
                hours = rng.randint(0, 8)
                key = f"demo:kudos:{day}:{n}"
                if kudos_by_source(s, key) is not None:
                    continue
                kudos = insert_kudos(
                    s, giver_id=users[giver].id, recipient_ids=[users[recipient].id], reason=reason,
                    values=[value], platform=PLATFORM, source_key=key,
                )
                kudos.created_at = now - timedelta(days=day, hours=hours)
    for seeder in SEEDERS:
        seeder(core, rng)


def _users(s) -> dict[str, User]:
    return {u.external_id: u for u in s.execute(select(User).where(User.platform == PLATFORM)).scalars()}


def seed_wins(core, rng: random.Random) -> None:
    """Customer wins spread over the history, each with its contributors (recognition's own storage)."""
    now = core.clock()
    with write_unit(core.engine) as s:
        users = _users(s)
        for n, (customer, summary, value, contributors, days_ago) in enumerate(WINS):
            key = f"demo:win:{n}"
            if win_by_source(s, key) is not None:
                continue
            insert_win(
                s, customer=customer, summary=summary, value=value, won_on=(now - timedelta(days=days_ago)).date(),
                created_by=users[contributors[0]].id, platform=PLATFORM, source_key=key,
                contributor_ids=[users[h].id for h in contributors], created_at=now - timedelta(days=days_ago),
            )


def seed_feedback(core, rng: random.Random) -> None:
    """Customer feedback as if imported: classified and routed by the real pipeline, praise credited, nobody messaged."""
    now = core.clock()
    config = core.org.feedback
    with write_unit(core.engine) as s:
        snapshot = build_directory(s, config)
        for n, (customer, account, score, agent, text, age) in enumerate(FEEDBACK):
            external_id = f"demo-{n}"
            if feedback_by_key(s, "demo", external_id) is not None:
                continue
            record = FeedbackRecord(
                source="demo", external_id=external_id, customer_name=customer, customer_account=account,
                score=float(score), scale="csat5", text=text, agent=Agent(email=f"{agent}@{DOMAIN}"),
                created_at=now - age,
            )
            ingest(s, record, {"demo": external_id}, config, now=now, platforms=(PLATFORM,), live=False, snapshot=snapshot)


PULSE_COMMENTS = {
    "support": ["The new macros save me real time.", "Still too many escalations on Mondays.", "Loved the shout-out in the digest!"],
    "platform": ["On-call was brutal this week.", "Too many pages at night, we need a second rota.", "Good pairing sessions though."],
}
PULSE_WEEKS = HISTORY_WEEKS


def past_cycle_days(schedule, today: date, open_days: int, weeks: int) -> list[date]:
    """The team's last `weeks` scheduled pulse days that have already closed, oldest first."""
    day = today - timedelta(days=open_days + 1)
    while not is_cycle_day(schedule, day):
        day -= timedelta(days=1)
    return [day - timedelta(weeks=schedule.every_weeks * n) for n in range(weeks - 1, -1, -1)]


def _answer(scale: str, mean: float, rng: random.Random) -> int:
    """A plausible answer around `mean` (on the 1-5 scale); eNPS is 0-10."""
    if scale == "enps":
        return max(0, min(10, round(rng.gauss(mean * 2, 1.5))))
    return max(1, min(5, round(rng.gauss(mean, 0.7))))


def seed_pulses(core, rng: random.Random) -> None:
    """`PULSE_WEEKS` closed weekly pulses per team, each answered by more people than the anonymity minimum.

    Rows are written with the pulse feature's own storage and respondent keys, under the same
    source keys its scheduler uses (`team:<slug>:<day>`), so the scheduler never re-opens them.
    """
    secret = core.settings.PULSEBRIDGE_SECRET_KEY
    if not secret:
        log.warning("demo: PULSEBRIDGE_SECRET_KEY is not set, so no pulse history is seeded")
        return
    config = core.org.pulses
    questions = active_questions(config)
    bank = [q for q in questions.values() if q.scale in ("likert", "mood")]
    enps = next((q for q in questions.values() if q.scale == "enps"), None)
    now = core.clock()
    open_days = -(-config.open_hours // 24)
    for slug, team_cfg in core.org.teams.items():
        schedule = team_cfg.pulse
        if schedule is None:
            continue
        for week, day in enumerate(past_cycle_days(schedule, now.date(), open_days, PULSE_WEEKS)):
            key = f"team:{slug}:{day.isoformat()}"
            # Draw everything first so every run walks the same random sequence.
            specs = [bank[(week * 2 + i + len(slug)) % len(bank)] for i in range(config.questions_per_pulse)]
            if enps is not None and (PULSE_WEEKS - 1 - week) % 13 == 0:
                specs[0] = enps  # the latest week (and each quarter before it) asks eNPS, as the rotation does
            with write_unit(core.engine) as s:
                team = team_by_slug(s, slug)
                if team is not None:
                    add_member_users(s, team.id)
                people = team_recipients(s, team.id) if team is not None else []
                skipped = rng.randrange(len(people)) if people else 0
                values = [[_answer(spec.scale, trend(slug, week, PULSE_WEEKS), rng) for spec in specs] for _ in people]
                comment = rng.choice(PULSE_COMMENTS.get(slug, ["Fine."]))
                if team is None or pulse_by_source(s, key) is not None:
                    continue
                due = {u.id: local_due(day, schedule, u.timezone, team_cfg.timezone) for u in people}
                opens = min(due.values())
                pulse = create_pulse(
                    s,
                    Pulse(
                        source_key=key, kind="scheduled", team_id=team.id, cycle_date=day, opens_at=opens,
                        closes_at=max(due.values()) + timedelta(hours=config.open_hours), reminded=True,
                        status="closed", min_group_size=config.min_group_size, created_at=opens,
                    ),
                    [question_row(spec) for spec in specs],
                    [
                        dict(
                            user_id=u.id, platform=u.platform, question_keys=[q.id for q in specs], due_at=due[u.id],
                            status="sent", attempts=1, sent_at=due[u.id], answered=n != skipped, created_at=opens,
                        )
                        for n, u in enumerate(people)
                    ],
                )
                questions = {q.question_key: q for q in s.execute(select(PulseQuestion).where(PulseQuestion.pulse_id == pulse.id)).scalars()}
                for n, user in enumerate(people):
                    if n == skipped:
                        continue
                    for i, spec in enumerate(specs):
                        text = comment if n == 0 and i == 0 else None
                        upsert_answer(
                            s, pulse_id=pulse.id, question_id=questions[spec.id].id, respondent=respondent_key(secret, user.id, pulse.id),
                            on=day, value=values[n][i], comment=text, polarity=polarity(text) if text else None,
                        )


SEEDERS.extend([seed_wins, seed_feedback, seed_pulses])


def seeded(core) -> bool:
    with session(core.engine) as s:
        return s.execute(select(User.id).where(User.platform == PLATFORM).limit(1)).first() is not None


# -- time travel ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shortcut:
    """Something the playground can make happen now that would otherwise wait for the calendar."""

    id: str
    label: str
    at: datetime
    run: Callable[[], Awaitable[object]]


def next_pulse(core, slug: str) -> datetime | None:
    """When the team's next not-yet-opened scheduled pulse reaches its last member (their local time)."""
    team_cfg = core.org.teams[slug]
    schedule = team_cfg.pulse
    if schedule is None or not schedule.enabled:
        return None
    today = core.clock().date()
    with session(core.engine) as s:
        team = team_by_slug(s, slug)
        people = team_recipients(s, team.id) if team is not None else []
        if not people:
            return None
        for offset in range(7 * schedule.every_weeks * 3):
            day = today + timedelta(days=offset)
            if not is_cycle_day(schedule, day):
                continue
            if pulse_by_source(s, f"team:{slug}:{day.isoformat()}") is None:
                return max(local_due(day, schedule, u.timezone, team_cfg.timezone) for u in people)
    return None


def time_travel(core) -> list[Shortcut]:
    """The next scheduled pulse of each team, opened and sent now by the pulse feature's own code."""
    shortcuts = []
    for slug in core.org.teams:
        at = next_pulse(core, slug)
        if at is None or not core.settings.PULSEBRIDGE_SECRET_KEY:
            continue

        async def run(at: datetime = at) -> None:
            # As if the clock had reached `at`: open what is due then and send its DMs.
            open_due_cycles(core, at)
            await fan_out(core, at)

        team = core.org.teams[slug]
        local = at.astimezone(zone(team.timezone))  # the last member's delivery time; its day is the cycle's day
        label = f"Send {slug}'s next pulse now, due {local:%a} {local.day} {local:%b} at {team.pulse.time} each member's time: its members get the DMs"
        shortcuts.append(Shortcut(f"demo:pulse:{slug}", label, at, run))
    return shortcuts
