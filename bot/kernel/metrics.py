"""Prometheus metrics every part of the bot shares; served at GET /metrics.

Labels are bounded: routes, registered handler names, API method names, job names. Never put a
user id, a team name or any text a person typed into a label.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("pulsebridge_http_requests_total", "HTTP requests served, by route and status", ["route", "method", "status"])
HTTP_LATENCY = Histogram("pulsebridge_http_request_duration_seconds", "Time to answer an HTTP request", ["route"])
HANDLER_LATENCY = Histogram(
    "pulsebridge_handler_duration_seconds", "Time a feature handler took (command, action, form)", ["kind", "name", "outcome"]
)
OUTBOUND_CALLS = Counter(
    "pulsebridge_outbound_api_calls_total", "Calls to platform APIs (Slack Web API, Bot Connector), by outcome", ["platform", "method", "outcome"]
)
# Answers where the platform said no (Slack `ok: false`, a response_url error): `error` is the
# platform's own error code (invalid_blocks, not_in_channel, expired_trigger_id), never free text.
REFUSED = Counter("pulsebridge_outbound_refused_total", "Platform API calls the platform refused, by method and error code", ["platform", "method", "error"])
RATE_LIMITED = Counter("pulsebridge_outbound_rate_limited_total", "HTTP 429 answers from platform APIs", ["platform", "method"])
SCHEDULER_JOBS = Counter("pulsebridge_scheduler_jobs_total", "Scheduled job runs, by job name and outcome", ["job", "outcome"])
SCHEDULER_LEADER = Gauge("pulsebridge_scheduler_leader", "1 while this process runs the scheduler, else 0")
OUTBOX_MESSAGES = Counter("pulsebridge_outbox_messages_total", "Messages the outbox sent or failed to send", ["platform", "outcome"])
# Incremented by the pulses feature for every pulse question it delivers (outcome: sent | failed | skipped).
PULSE_DELIVERIES = Counter("pulsebridge_pulse_deliveries_total", "Pulse questions delivered to people", ["platform", "outcome"])


@contextmanager
def outbound_call(platform: str, method: str, status_of: Callable[[BaseException], int | None] = lambda _: None) -> Iterator[None]:
    """Count one platform API call; `status_of` reads an HTTP status from the SDK's exception."""
    try:
        yield
    except BaseException as exc:
        status = status_of(exc)
        if status == 429:
            RATE_LIMITED.labels(platform, method).inc()
        OUTBOUND_CALLS.labels(platform, method, f"http_{status}" if status else "error").inc()
        raise
    OUTBOUND_CALLS.labels(platform, method, "ok").inc()


@contextmanager
def timed(histogram: Histogram, *labels: str) -> Iterator[list[str]]:
    """Observe the block's duration; the caller may append an outcome label to the yielded list."""
    start = time.perf_counter()
    extra: list[str] = []
    try:
        yield extra
    finally:
        histogram.labels(*labels, *extra).observe(time.perf_counter() - start)
