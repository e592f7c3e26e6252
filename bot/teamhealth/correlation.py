"""Pearson correlation of weekly EX vs weekly CX, at lags of 0–4 weeks (EX leading CX).

Shown only with at least `min_points` paired weeks; always reported with n and the caveat that
correlation is not proof, because a dozen weekly points of two noisy series mislead easily.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

CAVEAT = "correlation, not proof"


@dataclass(frozen=True)
class Link:
    lag: int
    r: float
    n: int


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def lagged(ex: Sequence[float | None], cx: Sequence[float | None], max_lag: int = 4, min_points: int = 10) -> list[Link]:
    """r for each lag k: ex[t] paired with cx[t + k]; lags with too few pairs or no variance are left out."""
    links = []
    for lag in range(max_lag + 1):
        pairs = [(ex[t], cx[t + lag]) for t in range(len(ex) - lag) if t + lag < len(cx) and ex[t] is not None and cx[t + lag] is not None]
        if len(pairs) < min_points:
            continue
        r = pearson([p[0] for p in pairs], [p[1] for p in pairs])
        if r is not None:
            links.append(Link(lag, r, len(pairs)))
    return links


def describe(links: Sequence[Link], weeks: int, min_points: int) -> str:
    if not links:
        return f"EX↔CX: not enough weeks with both engagement and customer feedback yet (need {min_points} of the last {weeks}) — {CAVEAT} once shown."
    best = max(links, key=lambda link: (abs(link.r), -link.lag))
    strength = "strong" if abs(best.r) >= 0.7 else "moderate" if abs(best.r) >= 0.4 else "weak"
    direction = "positive" if best.r > 0 else "negative"
    when = "the same week" if best.lag == 0 else f"{best.lag} week{'s' if best.lag > 1 else ''} later"
    others = ", ".join(f"lag {link.lag}: {link.r:+.2f}" for link in links if link is not best)
    tail = f" (others — {others})" if others else ""
    return (
        f"EX↔CX: {strength} {direction} link, r = {best.r:+.2f} between engagement and customer score {when} "
        f"(n = {best.n} weeks){tail} — {CAVEAT}."
    )
