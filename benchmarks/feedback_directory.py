"""The benchmark's pretend company: people, agent mappings and account owners (shared by the builder and the runner)."""

from __future__ import annotations

from bot.feedback.config import FeedbackConfig
from bot.feedback.routing import Directory, Employee

PEOPLE = [
    # (email, display name, slack id)
    ("maria.lopez@corp.example", "Maria Lopez", "U01"),
    ("maria.chen@corp.example", "Maria Chen", "U02"),
    ("carla.diaz@corp.example", "Carla Diaz", "U03"),
    ("robert.stone@corp.example", "Robert Stone", "U04"),
    ("william.turner@corp.example", "William Turner", "U05"),
    ("grace.kim@corp.example", "Grace Kim", "U06"),
    ("frank.miller@corp.example", "Frank Miller", "U07"),
    ("guillermo.santos@corp.example", "Guillermo Santos", "U08"),
    ("siobhan.oneill@corp.example", "Siobhan O'Neill", "U09"),
    ("jose.ramirez@corp.example", "José Ramírez", "U10"),
    ("katherine.ng@corp.example", "Katherine Ng", "U11"),
    ("aleksandr.petrov@corp.example", "Aleksandr Petrov", "U12"),
    ("priyanka.raman@corp.example", "Priyanka Raman", "U13"),
    ("tom.becker@corp.example", "Tom Becker", "U14"),
    ("dan.wu@corp.example", "Dan Wu", "U15"),
    ("dana.whitfield@corp.example", "Dana Whitfield", "U16"),
    ("ana.lima@corp.example", "Ana Lima", "U17"),
    ("anna.berg@corp.example", "Anna Berg", "U18"),
    ("erin.park@corp.example", "Erin Park", "U19"),
    ("mark.evans@corp.example", "Mark Evans", "U20"),
    ("hope.adeyemi@corp.example", "Hope Adeyemi", "U21"),
    ("mohammed.alfarsi@corp.example", "Mohammed Al-Farsi", "U22"),
    ("yuki.tanaka@corp.example", "Yuki Tanaka", "U23"),
    ("liam.obrien@corp.example", "Liam O'Brien", "U24"),
    ("sofia.rossi@corp.example", "Sofia Rossi", "U25"),
    ("benedikt.huber@corp.example", "Benedikt Huber", "U26"),
]

TEAMS_IDS = {"carla.diaz@corp.example": ("teams:29:carla",), "yuki.tanaka@corp.example": ("teams:29:yuki",)}

CONFIG = FeedbackConfig(
    agents={
        "zendesk:1001": "guillermo.santos@corp.example",
        "zendesk:1002": "siobhan.oneill@corp.example",
        "zendesk:1003": "maria.chen@corp.example",
        "intercom:5501": "tom.becker@corp.example",
        "intercom:5502": "katherine.ng@corp.example",
        "agent7@outsourcer.example": "yuki.tanaka@corp.example",
        "zendesk:1999": "former.employee@corp.example",  # mapped to someone who left: must not route
    },
    account_owners={
        "Acme Corp": "sofia.rossi@corp.example",
        "Globex": "benedikt.huber@corp.example",
        "Initech": "erin.park@corp.example",
    },
    aliases={"aleksandr.petrov@corp.example": ["Sasha"], "mohammed.alfarsi@corp.example": ["Mo"]},
)


def directory() -> Directory:
    return Directory(
        [
            Employee(email, name, frozenset({email, f"slack:{uid}", *TEAMS_IDS.get(email, ())}), tuple(CONFIG.aliases.get(email, ())))
            for email, name, uid in PEOPLE
        ]
    )
