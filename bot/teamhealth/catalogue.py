"""The metrics a goal can track, their ranges and which way is better."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    low: float
    high: float
    higher_is_better: bool = True
    unit: str = ""
    pulse: bool = False  # derived from pulse answers: subject to suppression


METRICS: dict[str, MetricSpec] = {
    m.key: m
    for m in (
        MetricSpec("engagement", "Engagement", 0, 100, unit="/100", pulse=True),
        MetricSpec("enps", "eNPS", -100, 100, pulse=True),
        MetricSpec("participation", "Pulse participation", 0, 100, unit="%", pulse=True),
        MetricSpec("kudos_per_person", "Kudos received per person", 0, 1000),
        MetricSpec("kudos_given", "Kudos given", 0, 1_000_000),
        MetricSpec("quiet_contributors", "Quiet contributors", 0, 100_000, higher_is_better=False),
        MetricSpec("customer_kudos", "Customer kudos", 0, 1_000_000),
        MetricSpec("csat", "CSAT", 1, 5, unit="/5"),
        MetricSpec("nps", "NPS", -100, 100),
        MetricSpec("positive_feedback", "Positive feedback", 0, 100, unit="%"),
    )
}


def check_target(metric: str, target: float) -> str | None:
    spec = METRICS.get(metric)
    if spec is None:
        return f"unknown metric {metric!r}; one of: {', '.join(METRICS)}"
    if not spec.low <= target <= spec.high:
        return f"a {spec.label} target must be between {spec.low:g} and {spec.high:g}"
    return None


def fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    spec = METRICS[metric]
    if metric == "csat":
        return f"{value:.2f}{spec.unit}"
    if metric in ("enps", "nps"):
        return f"{value:+.0f}"
    if metric == "kudos_per_person":
        return f"{value:.1f}"
    return f"{value:.0f}{spec.unit}"
