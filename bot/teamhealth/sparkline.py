"""Text sparklines: they render the same in Slack, Teams and a notification preview."""

from __future__ import annotations

from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"
GAP = "·"  # a week with no figure (no pulse, or suppressed)


def sparkline(values: Sequence[float | None], low: float | None = None, high: float | None = None) -> str:
    """One character per value, scaled between `low` and `high` (default: the values' own range)."""
    known = [v for v in values if v is not None]
    if not known:
        return GAP * len(values)
    lo = min(known) if low is None else low
    hi = max(known) if high is None else high
    out = []
    for v in values:
        if v is None:
            out.append(GAP)
        elif hi <= lo:
            out.append(BARS[len(BARS) // 2 - 1])
        else:
            i = round((min(max(v, lo), hi) - lo) / (hi - lo) * (len(BARS) - 1))
            out.append(BARS[i])
    return "".join(out)
