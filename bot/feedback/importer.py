"""`pulsebridge feedback import`: CSV or JSON Lines exports, one record per row or line.

Imports are history: they are stored, classified, routed and counted as customer kudos
(status `credited`), but no DMs or triage posts are sent for them, then or on a later webhook
redelivery (nobody wants a hundred old compliments at once). Praise nobody could attribute is
stored as `unrouted`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CSV_COLUMNS = (
    "source", "id", "customer_name", "customer_account", "score", "scale", "text",
    "agent_email", "agent_name", "agent_id", "created_at",
)


@dataclass
class Line:
    number: int
    payload: dict[str, Any] | None
    error: str | None = None


@dataclass
class Summary:
    imported: int = 0
    duplicate: int = 0
    rejected: list[str] = field(default_factory=list)


def _csv_payload(row: dict[str, str], default_source: str | None) -> dict[str, Any]:
    """A CSV row in the generic format's flat spelling → the generic JSON shape."""
    value = {k: (v.strip() if isinstance(v, str) else v) or None for k, v in row.items() if k}
    return {
        "source": value.get("source") or default_source,
        "id": value.get("id"),
        "customer": {"name": value.get("customer_name"), "account": value.get("customer_account")},
        "score": value.get("score"),
        "scale": value.get("scale"),
        "text": value.get("text"),
        "agent": {"email": value.get("agent_email"), "name": value.get("agent_name"), "id": value.get("agent_id")},
        "created_at": value.get("created_at"),
    }


def read_lines(path: Path, kind: str, default_source: str | None) -> Iterator[Line]:
    """Payloads from a file; `kind` is csv or jsonl. Unreadable lines come back with an error instead."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if kind == "csv":
            reader = csv.DictReader(handle)
            missing = [c for c in ("id",) if c not in (reader.fieldnames or [])]
            if missing:
                yield Line(1, None, f"the header has no {', '.join(missing)} column (expected {', '.join(CSV_COLUMNS)})")
                return
            for row in reader:
                yield Line(reader.line_num, _csv_payload(row, default_source))
            return
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                payload = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Line(number, None, f"not valid JSON ({exc.msg})")
                continue
            if isinstance(payload, dict) and default_source and "source" not in payload and "id" in payload:
                payload["source"] = default_source
            yield Line(number, payload)


def file_kind(path: Path, given: str | None) -> str:
    if given:
        return given
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def snapshot(engine, config):
    """The directory as it is now; an import creates no users, so one read serves every line."""
    from bot.feedback.relay import build_directory
    from storage.db import session

    with session(engine) as s:
        return build_directory(s, config)


def process(engine, config, line: Line, *, dry_run: bool, now, directory=None) -> tuple[str, str | None, dict[str, Any] | None]:
    """One line: ("imported" | "duplicate" | "rejected" | "previewed", reason, dry-run preview)."""
    from bot.feedback.parsers import parse
    from bot.feedback.record import MalformedFeedback
    from bot.feedback.relay import assess, ingest
    from storage.db import session
    from storage.feedback import feedback_by_key

    if line.payload is None:
        return "rejected", f"line {line.number}: {line.error}", None
    try:
        record = parse(line.payload)
    except MalformedFeedback as exc:
        return "rejected", f"line {line.number}: {exc.field}: {exc.message}", None
    if dry_run:
        with session(engine) as s:
            _sentiment, decision, _users = assess(s, record, config, directory)
            duplicate = feedback_by_key(s, record.source, record.external_id) is not None
        employee = decision.employee if decision else None
        preview = {
            "id": record.external_id,
            "routed_to": (employee.key if employee else None),
            "method": decision.method if decision else "not_kudos",
            "confidence": decision.confidence if decision else None,
        }
        if duplicate:
            preview["duplicate"] = True
        return "previewed", None, preview
    with session(engine) as s, s.begin():
        result = ingest(s, record, line.payload, config, now=now, platforms=("slack", "teams"), live=False, snapshot=directory)
    return ("duplicate" if result.duplicate else "imported"), None, None
