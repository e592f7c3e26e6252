"""The benchmark's pretend companies: people, agent mappings and account owners (shared by the builder and the runner).

`main` is the company of feedback_routing.jsonl and the hold-out; `collisions` (feedback_routing_collisions.jsonl)
is one where first names collide with colleagues' nicknames and aliases, in several languages.
"""

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

# Sam / Samantha / Samuel, Alex / Alexander / Alexandra / Aleksandr (Sasha), Pepe / José, Paco / Francisco,
# Hans / Johannes, Billy / William, Kate / Katarzyna, Kit (an alias) / Kit; and diminutives with one owner.
COLLISION_PEOPLE = [
    ("sam.okafor@corp.example", "Sam Okafor", "C01"),
    ("samantha.reyes@corp.example", "Samantha Reyes", "C02"),
    ("samuel.lindqvist@corp.example", "Samuel Lindqvist", "C03"),
    ("alex.moreau@corp.example", "Alex Moreau", "C04"),
    ("alexander.brandt@corp.example", "Alexander Brandt", "C05"),
    ("alexandra.novak@corp.example", "Alexandra Novak", "C06"),
    ("aleksandr.volkov@corp.example", "Aleksandr Volkov", "C07"),
    ("jose.ramirez@corp.example", "José Ramírez", "C08"),
    ("pepe.ortega@corp.example", "Pepe Ortega", "C09"),
    ("francisco.herrera@corp.example", "Francisco Herrera", "C10"),
    ("paco.molina@corp.example", "Paco Molina", "C11"),
    ("johannes.weber@corp.example", "Johannes Weber", "C12"),
    ("hans.mueller@corp.example", "Hans Müller", "C13"),
    ("william.turner@corp.example", "William Turner", "C14"),
    ("billy.cole@corp.example", "Billy Cole", "C15"),
    ("katarzyna.nowak@corp.example", "Katarzyna Nowak", "C16"),
    ("kate.sullivan@corp.example", "Kate Sullivan", "C17"),
    ("christopher.adler@corp.example", "Christopher Adler", "C18"),
    ("kit.morgan@corp.example", "Kit Morgan", "C19"),
    ("dmitri.sokolov@corp.example", "Dmitri Sokolov", "C20"),
    ("ekaterina.ivanova@corp.example", "Ekaterina Ivanova", "C21"),
    ("ignacio.vega@corp.example", "Ignacio Vega", "C22"),
    ("malgorzata.wisniewska@corp.example", "Małgorzata Wiśniewska", "C23"),
    ("giuseppe.russo@corp.example", "Giuseppe Russo", "C24"),
    ("friedrich.vogel@corp.example", "Friedrich Vogel", "C25"),
    ("mikhail.orlov@corp.example", "Mikhail Orlov", "C26"),
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
    aliases={
        "aleksandr.petrov@corp.example": ["Sasha"],
        "mohammed.alfarsi@corp.example": ["Mo"],
        # collisions company: an alias that is a colleague's first name.
        "christopher.adler@corp.example": ["Kit"],
        "aleksandr.volkov@corp.example": ["Sasha"],
    },
)

COMPANIES = {"main": PEOPLE, "collisions": COLLISION_PEOPLE}


def directory(company: str = "main") -> Directory:
    return Directory(
        [
            Employee(email, name, frozenset({email, f"slack:{uid}", *TEAMS_IDS.get(email, ())}), tuple(CONFIG.aliases.get(email, ())))
            for email, name, uid in COMPANIES[company]
        ]
    )
