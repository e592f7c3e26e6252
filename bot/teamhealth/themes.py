"""Frequent words and two-word phrases in pulse comments, after removing stop words.

Our own stop-word list (no NLTK corpora: the bot runs offline). Bigrams are built from adjacent
words that survive stop-word removal within one comment, so "on call rota" gives "call rota".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being below
    between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
    even ever every few for from further get gets getting got had hadn't has hasn't have haven't having he he'd
    he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it
    it's its itself just let's like lot lots me more most much mustn't my myself no nor not now of off on once
    only or other ought our ours ourselves out over own really same shan't she she'd she'll she's should
    shouldn't so some still such than that that's the their theirs them themselves then there there's these
    they they'd they'll they're they've thing things this those through to too under until up us very was
    wasn't we we'd we'll we're we've were weren't what what's when when's where where's which while who who's
    whom why why's will with won't would wouldn't yet you you'd you'll you're you've your yours yourself
    yourselves one two make made many may might must need needs bit quite week weeks day days time team
    feel felt think good great bad well ok okay yes
    """.split()
)
_WORD = re.compile(r"[a-zà-öø-ÿ][a-zà-öø-ÿ'’-]*", re.IGNORECASE)


def _tokens(text: str) -> list[str | None]:
    """Words in order; None marks a removed stop word so bigrams never jump over it."""
    out: list[str | None] = []
    for match in _WORD.finditer(text.lower()):
        word = match.group(0).replace("’", "'").strip("'-")
        out.append(None if len(word) < 3 or word in STOP_WORDS else word)
    return out


def themes(texts: Iterable[str], limit: int = 5, min_count: int = 2) -> list[tuple[str, int]]:
    """Top words and bigrams (counted once per comment), bigrams first when they tie with their words."""
    counts: Counter[str] = Counter()
    for text in texts:
        tokens = _tokens(text)
        seen = {t for t in tokens if t}
        seen |= {f"{a} {b}" for a, b in zip(tokens, tokens[1:]) if a and b}
        counts.update(seen)
    ranked = sorted(((t, n) for t, n in counts.items() if n >= min_count), key=lambda tn: (-tn[1], -len(tn[0].split()), tn[0]))
    picked: list[tuple[str, int]] = []
    for term, n in ranked:
        # A word that only appears inside an already-picked bigram adds nothing.
        if " " not in term and any(term in p.split() and n == pn for p, pn in picked):
            continue
        picked.append((term, n))
        if len(picked) == limit:
            break
    return picked


def sentiment_split(polarities: Iterable[float | None]) -> tuple[int, int, int]:
    """(positive, neutral, negative) with TextBlob polarity beyond ±0.1 counting as a lean."""
    pos = neu = neg = 0
    for p in polarities:
        if p is None or -0.1 <= p <= 0.1:
            neu += 1
        elif p > 0:
            pos += 1
        else:
            neg += 1
    return pos, neu, neg
