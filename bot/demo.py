"""The demo organisation: people, teams and a month of history for `pulsebridge demo`.

Seeding is idempotent: every row it writes has a stable key (user handle, kudos source key),
so running it twice leaves one copy. Features add their own history through `SEEDERS`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from importlib import resources

from sqlalchemy import select

from bot.feedback.record import Agent, FeedbackRecord
from bot.feedback.relay import build_directory, ingest
from bot.orgconfig import OrgConfig, parse_org_config
from storage.db import session
from storage.directory import upsert_user
from storage.feedback import feedback_by_key
from storage.kudos import insert_kudos, kudos_by_source
from storage.recognition import insert_win, win_by_source
from storage.tables import User

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
# Nobody recognises Dev this month, so his lead's digest has a quiet contributor to point out.
QUIET = "dev"
REASONS = [
    ("rescuing the Acme renewal with a same-day fix", "customer-first"),
    ("pairing on the flaky billing tests until they were green", "craft"),
    ("owning the incident review and writing it up for everyone", "ownership"),
    ("covering my queue while I was out sick", "kindness"),
    ("turning a furious ticket into a five-star rating", "customer-first"),
    ("shipping the SSO fix before the Globex launch", "ownership"),
]

WINS = [
    ("Acme Corp", "Renewal saved after the SSO outage", "$120k ARR", ["bob", "carla", "priya"]),
    ("Globex", "Launched on the new billing API a week early", "expansion", ["raj", "sam"]),
    ("Initech", "Turned a churn-risk escalation into a case study", None, ["emma", "quinn"]),
    ("Umbrella Health", "Passed the security review on the first try", "$45k ARR", ["tess", "olga", "femi"]),
]
# (customer, account, score on a 1-5 CSAT scale, agent, what they wrote). Low scores are stored, never relayed.
FEEDBACK = [
    ("Maria Gomez", "Acme Corp", 5, "bob", "Bob fixed our invoice problem in ten minutes. Brilliant support!"),
    ("Tom Reed", "Globex", 5, "carla", "Carla was patient and clear, and the export works perfectly now."),
    ("Lena Fischer", "Initech", 4, "carla", "Quick, friendly answer and a workaround that actually helped."),
    ("Kenji Sato", "Umbrella Health", 2, "emma", "It took three days to get a reply."),
    ("Amara Obi", "Acme Corp", 5, "femi", "Femi went above and beyond to get our team onboarded."),
    ("Noah Berg", "Hooli", 5, "emma", "Emma explained the SSO setup better than our own IT team."),
    ("Sofia Rossi", "Globex", 3, "bob", "Solved in the end, but I had to repeat myself."),
    ("Liam Chen", "Initech", 5, "carla", "Fantastic help, thank you Carla!"),
]

# Features register functions that add their own demo history: seeder(core, rng) -> None.
SEEDERS: list[Callable] = []


def demo_org() -> OrgConfig:
    text = resources.files("bot.data").joinpath("demo_org.yaml").read_text(encoding="utf-8")
    return parse_org_config(text, "demo_org.yaml")


def seed(core, days: int = 30) -> None:
    rng = random.Random(42)
    now = core.clock()
    with session(core.engine) as s, s.begin():
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
    """Customer wins spread over the month, each with its contributors (recognition's own storage)."""
    now = core.clock()
    with session(core.engine) as s, s.begin():
        users = _users(s)
        for n, (customer, summary, value, contributors) in enumerate(WINS):
            key = f"demo:win:{n}"
            days_ago = 3 + n * 7
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
    with session(core.engine) as s, s.begin():
        snapshot = build_directory(s, config)
        for n, (customer, account, score, agent, text) in enumerate(FEEDBACK):
            external_id = f"demo-{n}"
            if feedback_by_key(s, "demo", external_id) is not None:
                continue
            record = FeedbackRecord(
                source="demo", external_id=external_id, customer_name=customer, customer_account=account,
                score=float(score), scale="csat5", text=text, agent=Agent(email=f"{agent}@{DOMAIN}"),
                created_at=now - timedelta(days=2 + n * 3, hours=n),
            )
            ingest(s, record, {"demo": external_id}, config, now=now, platforms=(PLATFORM,), live=False, snapshot=snapshot)


SEEDERS.extend([seed_wins, seed_feedback])


def seeded(core) -> bool:
    with session(core.engine) as s:
        return s.execute(select(User.id).where(User.platform == PLATFORM).limit(1)).first() is not None
