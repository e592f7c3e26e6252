"""Who earned this praise? Five rules in a fixed order; the first that is sure decides and is recorded.

Precision beats recall everywhere here: a rule that is not certain passes, and what nobody can
attribute goes to a person in the triage channel. Praise sent to the wrong colleague is worse
than praise that waits for a human.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.feedback.config import FeedbackConfig
from bot.feedback.names import COMMON_WORDS, aliases_for
from bot.feedback.record import FeedbackRecord

EXPLICIT = "explicit"
AGENT_MAPPING = "agent_mapping"
NAME_IN_TEXT = "name_in_text"
ACCOUNT_OWNER = "account_owner"
TRIAGE = "triage"
# The account owner looks after the customer; they were not necessarily the one praised.
ACCOUNT_OWNER_CONFIDENCE = 0.6
# Short names are too close to each other ("Ana"/"Anna", "Dan"/"Dana") to forgive a typo.
MIN_FUZZY_LENGTH = 5

_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")


@dataclass(frozen=True)
class Employee:
    """One person, however many chat platforms they are on. `key` is their email when known."""

    key: str
    name: str
    identifiers: frozenset[str]  # email, slack:U…, teams:29:…
    aliases: tuple[str, ...] = ()


@dataclass
class Directory:
    employees: list[Employee]
    _by_ident: dict[str, Employee] = field(init=False, default_factory=dict)
    _by_bare_id: dict[str, list[Employee]] = field(init=False, default_factory=dict)
    _matchers: dict[float, NameMatcher] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for emp in self.employees:
            for ident in emp.identifiers:
                self._by_ident[ident] = emp
                platform, _, bare = ident.partition(":")
                if platform in ("slack", "teams"):
                    self._by_bare_id.setdefault(bare, []).append(emp)

    def find(self, reference: str | None) -> Employee | None:
        """An email, `slack:U…` / `teams:29:…`, or a bare platform id that only one person has."""
        if not reference:
            return None
        ref = reference.strip()
        found = self._by_ident.get(ref.lower() if "@" in ref else ref)
        if found is not None:
            return found
        bare = self._by_bare_id.get(ref, [])
        return bare[0] if len(bare) == 1 else None

    def matcher(self, threshold: float) -> NameMatcher:
        """Built once per directory and threshold: an import routes thousands of records against it."""
        if threshold not in self._matchers:
            self._matchers[threshold] = NameMatcher(self.employees, threshold)
        return self._matchers[threshold]


@dataclass(frozen=True)
class Decision:
    employee: Employee | None
    method: str
    confidence: float
    detail: str


def _fold(text: str) -> str:
    """Lowercase without accents, so "Jose" finds José and "OBRIEN" finds O'Brien."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower().replace("’", "'")


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(folded word, capitalised) for each word; possessive 's removed. Ids like U0BOB are not names."""
    out = []
    for match in _WORD.finditer(text):
        word = re.sub(r"['’]s$", "", match.group(0))
        if any(ch.isdigit() for ch in word):
            continue
        out.append((_fold(word), word[:1].isupper()))
    return out


@functools.cache
def _fuzz():
    """rapidfuzz, imported at the first praise to route: 2.5 MB of compiled matchers that a server
    which never receives customer feedback does not need to hold."""
    from rapidfuzz import fuzz

    return fuzz


def _similar(token: str, name: str, threshold: float) -> float:
    if token == name:
        return 100.0
    if len(name) < MIN_FUZZY_LENGTH or len(token) < MIN_FUZZY_LENGTH:
        return 0.0
    score = _fuzz().ratio(token, name)
    return score if score >= threshold else 0.0


@dataclass(frozen=True)
class _Person:
    employee: Employee
    first: str
    last: str | None
    aliases: frozenset[str]  # nicknames and configured aliases, never the person's own names

    @property
    def givens(self) -> set[str]:
        return {self.first, *self.aliases}


class NameMatcher:
    """Finds directory people named in a text; a word that can mean two people means both."""

    def __init__(self, employees: Iterable[Employee], threshold: float):
        self.threshold = threshold
        self.people: list[_Person] = []
        for emp in employees:
            parts = [p for p in re.split(r"[\s._]+", _fold(emp.name.strip())) if p]
            if not parts:
                continue
            first, last = parts[0], (parts[-1] if len(parts) > 1 else None)
            aliases = {*aliases_for(first), *(_fold(a) for a in emp.aliases)} - {first, last}
            self.people.append(_Person(emp, first, last, frozenset(aliases)))

    def match(self, text: str, exclude: Iterable[str] = ()) -> tuple[list[tuple[Employee, float]], str]:
        """Employees named in `text` with their best similarity, and a note on what was seen."""
        excluded = {_fold(e) for e in exclude}
        tokens = _tokens(text)
        best: dict[str, tuple[Employee, float]] = {}
        consumed: set[int] = set()

        def note(emp: Employee, score: float) -> None:
            if score > best.get(emp.key, (emp, 0.0))[1]:
                best[emp.key] = (emp, score)

        # Full names first: "Maria Lopez" names one Maria even when there are two.
        for i in range(len(tokens) - 1):
            (w1, cap1), (w2, cap2) = tokens[i], tokens[i + 1]
            # "we will park it" is not Will Park: lowercase names only count when they are not words.
            if not (cap1 and cap2) and (w1 in COMMON_WORDS or w2 in COMMON_WORDS):
                continue
            pair_matches: list[tuple[float, Employee]] = []
            for person in self.people:
                if person.last is None:
                    continue
                for given in person.givens:
                    score = _fuzz().ratio(f"{w1} {w2}", f"{given} {person.last}")
                    exact_part = w1 == given or w2 == person.last
                    if score >= max(self.threshold, 90) or (score >= self.threshold and exact_part):
                        pair_matches.append((score, person.employee))
            if pair_matches:
                top = max(score for score, _ in pair_matches)
                for score, emp in pair_matches:
                    if score == top:
                        note(emp, score)
                consumed.update((i, i + 1))

        # Then single words. Every exact reading of a word counts: someone's own name and someone
        # else's nickname or alias are two people ("Sam" is Sam, and Samantha whom customers call
        # Sam), so the praise goes to triage rather than to a guess. A typo is only considered when
        # nobody is named exactly ("Liam" is Liam, not a misspelt William).
        for i, (word, capitalised) in enumerate(tokens):
            if i in consumed or word in excluded or word in COMMON_WORDS:
                continue
            exact: list[tuple[Employee, float]] = []
            typos: list[tuple[Employee, float]] = []
            for person in self.people:
                for name, own in ((person.first, True), (person.last, True), *((a, False) for a in person.aliases)):
                    if not name or name in COMMON_WORDS:
                        continue
                    score = _similar(word, name, self.threshold) if own else (100.0 if word == name else 0.0)
                    # A typo is only forgiven in a capitalised word and in someone's own name: lowercase
                    # text is full of near-names, and "Danielle" is not a typo of Dan's nickname Daniel.
                    if not score or (score < 100 and not capitalised):
                        continue
                    (exact if score == 100 else typos).append((person.employee, score))
            for emp, score in exact or typos:
                note(emp, score)
        found = sorted(best.values(), key=lambda pair: -pair[1])
        return found, ", ".join(f"{e.name} ({s:.0f})" for e, s in found)


def route(record: FeedbackRecord, directory: Directory, config: FeedbackConfig) -> Decision:
    agent = record.agent
    # 1. the payload names an employee we know.
    for ref, what in ((agent.email, "agent email"), (agent.id, "agent id")):
        emp = directory.find(ref)
        if emp is not None:
            return Decision(emp, EXPLICIT, 1.0, f"{what} {ref}")

    # 2. the admin told us who an external agent is.
    keys = [k for k in (agent.id and f"{record.source}:{agent.id}", agent.id, agent.email) if k]
    for key in keys:
        target = config.agents.get(key)
        if target is None:
            continue
        emp = directory.find(target)
        if emp is not None:
            return Decision(emp, AGENT_MAPPING, 1.0, f"agents[{key}] = {target}")

    # 3. exactly one employee is named in the customer's words.
    if record.text:
        exclude = (record.customer_name or "").split()
        found, seen = directory.matcher(config.thresholds.name_match).match(record.text, exclude)
        if len(found) == 1:
            emp, score = found[0]
            return Decision(emp, NAME_IN_TEXT, round(score / 100, 3), f"named in text: {seen}")
        text_note = f"ambiguous names: {seen}" if found else ""
    else:
        text_note = ""

    # 4. the account's owner.
    if record.customer_account:
        target = config.account_owners.get(record.customer_account.strip().lower())
        emp = directory.find(target)
        if emp is not None:
            return Decision(emp, ACCOUNT_OWNER, ACCOUNT_OWNER_CONFIDENCE, f"owner of {record.customer_account}" + (f"; {text_note}" if text_note else ""))

    # 5. a human decides.
    return Decision(None, TRIAGE, 0.0, text_note or "nobody matched")
