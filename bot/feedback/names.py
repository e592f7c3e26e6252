"""Name knowledge the text matcher needs: nicknames, and first/last names that are also ordinary words.

A name that is also a word ("Will", "Grace", "Frank", "Park") is never matched on its own: "will
fix it" and "Frank feedback" are not about anyone. Such people are still found by their full name.

Nicknames widen who a word may mean, never narrow it: when "Sam" is one person's first name and
another's nickname (Samantha), the matcher sees two people and the praise goes to triage. Keys
and nicknames are folded the way the matcher folds text (lowercase, accents removed: "jose").
"""

from __future__ import annotations

# formal name → nicknames customers commonly use.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "alexander": ("alex", "sasha"),
    "alexandra": ("alex", "sasha", "lexi"),
    "andrew": ("andy", "drew"),
    "anthony": ("tony",),
    "benjamin": ("ben",),
    "catherine": ("cathy", "kate", "katie"),
    "christopher": ("chris",),
    "christina": ("chris", "tina"),
    "daniel": ("dan", "danny"),
    "david": ("dave",),
    "edward": ("ed", "ted", "eddie"),
    "elizabeth": ("liz", "beth", "lizzie", "eliza"),
    "gregory": ("greg",),
    "james": ("jim", "jimmy", "jamie"),
    "jennifer": ("jen", "jenny"),
    "jonathan": ("jon",),
    "joseph": ("joe", "joey"),
    "joshua": ("josh",),
    "katherine": ("kate", "katie", "kathy"),
    "margaret": ("maggie", "meg", "peggy"),
    "matthew": ("matt",),
    "michael": ("mike", "mikey"),
    "nathaniel": ("nate", "nathan"),
    "nicholas": ("nick", "nico"),
    "patricia": ("pat", "patty", "trish"),
    "rebecca": ("becky", "becca"),
    "richard": ("rich", "rick", "dick"),
    "robert": ("rob", "bob", "bobby", "robbie"),
    "samuel": ("sam", "sammy"),
    "samantha": ("sam", "sammy"),
    "stephen": ("steve",),
    "steven": ("steve",),
    "susan": ("sue", "susie"),
    "thomas": ("tom", "tommy"),
    "victoria": ("vicky", "tori"),
    "william": ("will", "bill", "billy"),
    "zachary": ("zach", "zack"),
    # Other languages: diminutives customers use for colleagues abroad.
    "aleksandr": ("sasha", "sanya", "shura", "alex"),
    "aleksandra": ("sasha", "ola", "alex"),
    "oleksandr": ("sasha", "oles"),
    "alejandro": ("alex", "alejo"),
    "alessandro": ("alex", "sandro"),
    "anastasia": ("nastya",),
    "antonio": ("toni", "tony"),
    "concepcion": ("concha", "conchi"),
    "dmitri": ("dima", "mitya"),
    "dmitry": ("dima", "mitya"),
    "dolores": ("lola",),
    "eduardo": ("lalo",),
    "ekaterina": ("katya", "katia"),
    "elisabeth": ("lisa", "liesl", "sissi"),
    "enrique": ("quique", "kike"),
    "francesco": ("cesco", "checco"),
    "francisco": ("paco", "pancho", "curro", "fran"),
    "friedrich": ("fritz",),
    "giovanni": ("gianni",),
    "giuseppe": ("beppe", "peppe"),
    "guillermo": ("guille",),
    "ignacio": ("nacho",),
    "ivan": ("vanya",),
    "jesus": ("chucho", "chuy"),
    "johann": ("hans",),
    "johannes": ("hans", "hannes"),
    "jose": ("pepe", "pepito"),
    "katarzyna": ("kasia", "kate"),
    "małgorzata": ("gosia", "małgosia"),
    "manuel": ("manolo", "manu"),
    "mercedes": ("merche",),
    "mikhail": ("misha",),
    "natalia": ("natasha",),
    "vladimir": ("vova", "volodya", "vlad"),
    "wojciech": ("wojtek",),
    "yekaterina": ("katya", "katia"),
    "yevgeny": ("zhenya",),
}

COMMON_WORDS = frozenset(
    """
    amber april art august bell bill bishop black brook brown bush cash chase chip crystal dawn
    dean drew faith fox frank gene gold grace green guy hall hill holly honey hope hunter iris
    ivy jack jade joy june king lane little long major mark marsh mason max may melody miles
    mill moss newman page park pat penny pearl price rich river rob rose ruby rusty
    sage sandy scott sky star stone storm summer sunny taylor ward wade white will wood woods
    young sue ted ray rod dick""".split()
)


def aliases_for(first: str) -> set[str]:
    """Other names customers may use: a formal name's nicknames, or a nickname's sibling nicknames."""
    first = first.lower()
    out = set(NICKNAMES.get(first, ()))
    for nicks in NICKNAMES.values():
        # Tom may be Tommy; but an employee called Tom is not assumed to be every Thomas.
        if first in nicks:
            out.update(nicks)
    out.discard(first)
    return out
