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

from bot.orgconfig import OrgConfig, parse_org_config
from storage.db import session
from storage.directory import upsert_user
from storage.kudos import insert_kudos, kudos_by_source
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
REASONS = [
    ("rescuing the Acme renewal with a same-day fix", "customer-first"),
    ("pairing on the flaky billing tests until they were green", "craft"),
    ("owning the incident review and writing it up for everyone", "ownership"),
    ("covering my queue while I was out sick", "kindness"),
    ("turning a furious ticket into a five-star rating", "customer-first"),
    ("shipping the SSO fix before the Globex launch", "ownership"),
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
                giver, recipient = rng.sample(handles, 2)
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


def seeded(core) -> bool:
    with session(core.engine) as s:
        return s.execute(select(User.id).where(User.platform == PLATFORM).limit(1)).first() is not None
