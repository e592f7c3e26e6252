"""`pulsebridge feedback import`: CSV or JSON Lines exports, one record per row or line.

Imports are history: they are stored, classified, routed and counted as customer kudos
(status `credited`), but no DMs or triage posts are sent for them, then or on a later webhook
redelivery (nobody wants a hundred old compliments at once). Praise nobody could attribute is
stored as `unrouted`.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.feedback.payload import load
from bot.feedback.record import MalformedFeedback
from storage.feedback.queries import feedback_by_key
from storage.kernel.db import session, write_unit
from bot.feedback.relay import assess, build_directory, ingest
from bot.feedback.parsers import parse

log = logging.getLogger(__name__)
# One record per line; nothing a feedback tool exports comes near this.
MAX_LINE = 1024 * 1024

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


def _undecodable(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def read_lines(path: Path, kind: str, default_source: str | None, encoding: str | None = None) -> Iterator[Line]:
    """Payloads from a file; `kind` is csv or jsonl. Unreadable lines come back with an error instead.

    `encoding` None means UTF-8 (a BOM is skipped); for a CSV that is not UTF-8 use `csv_encoding`
    first (Excel writes Windows-1252)."""
    # surrogateescape: a line with bytes that are not UTF-8 is rejected on its own instead of ending the read.
    with path.open(encoding=encoding or "utf-8-sig", errors="surrogateescape", newline="") as handle:
        if kind == "csv":
            open_quote = unterminated_quote_line(handle.read())
            handle.seek(0)
            reader = csv.DictReader(handle)
            missing = [c for c in ("id",) if c not in (reader.fieldnames or [])]
            if missing:
                yield Line(1, None, f"the header has no {', '.join(missing)} column (expected {', '.join(CSV_COLUMNS)})")
                return
            rows = iter(reader)
            while True:
                start = reader.line_num + 1
                try:
                    row = next(rows)
                except StopIteration:
                    return
                except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit; the reader goes on
                    yield Line(reader.line_num, None, f"unreadable CSV ({exc})")
                    continue
                if open_quote is not None and reader.line_num >= open_quote:
                    # csv hands back the rest of the file as one field of this row: say so, never store it.
                    yield Line(start, None, f"unterminated quote: the quoted field opened on line {open_quote} never closes, so nothing from there to the end of the file was imported")
                    return
                if any(_undecodable(v) for v in row.values() if isinstance(v, str)):
                    yield Line(reader.line_num, None, "not valid UTF-8")
                    continue
                yield Line(reader.line_num, _csv_payload(row, default_source))
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            if _undecodable(text):
                yield Line(number, None, "not valid UTF-8")
                continue
            if len(text) > MAX_LINE:
                yield Line(number, None, f"longer than {MAX_LINE // 1024} KiB (a webhook body may be 256 KiB)")
                continue
            try:
                payload = load(text)
            except MalformedFeedback as exc:
                yield Line(number, None, exc.message)
                continue
            if isinstance(payload, dict) and default_source and "source" not in payload and "id" in payload:
                payload["source"] = default_source
            yield Line(number, payload)


def unterminated_quote_line(text: str) -> int | None:
    """The line on which a quoted CSV field opens and never closes, or None (the csv module's own
    rules: a quote opens a field only at its start, and "" inside it is a literal quote)."""
    line, in_quote, at_field_start, opened, i = 1, False, True, 0, 0
    while i < len(text):
        ch = text[i]
        if in_quote:
            if ch == '"':
                if text.startswith('"', i + 1):
                    i += 1
                else:
                    in_quote = False
            elif ch == "\n":
                line += 1
        elif ch == '"' and at_field_start:
            in_quote, opened = True, line
        if not in_quote:
            if ch == "\n":
                line += 1
            at_field_start = ch in ",\r\n"
        else:
            at_field_start = False
        i += 1
    return opened if in_quote else None


def csv_encoding(path: Path) -> str | None:
    """None when the file is UTF-8; else the encoding an Excel CSV export most likely has: Windows-1252,
    or Latin-1 when it holds a byte Windows-1252 leaves undefined."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def file_kind(path: Path, given: str | None) -> str:
    if given:
        return given
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def snapshot(engine, config):
    """The directory as it is now; an import creates no users, so one read serves every line."""
    with session(engine) as s:
        return build_directory(s, config)


def process(engine, config, line: Line, *, dry_run: bool, now, directory=None) -> tuple[str, str | None, dict[str, Any] | None]:
    """One line: ("imported" | "duplicate" | "rejected" | "previewed", reason, dry-run preview).

    Never raises for a bad line: whatever one line makes fail is rolled back and reported as that
    line's rejection, and the import goes on with the next one.
    """
    try:
        return _process(engine, config, line, dry_run=dry_run, now=now, directory=directory)
    except Exception as exc:  # noqa: BLE001 - one line must not abort the rest of the import
        log.warning("import line %s rejected: %s: %s", line.number, type(exc).__name__, exc)
        return "rejected", f"line {line.number}: could not be stored ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else 'no detail'})", None


def _process(engine, config, line: Line, *, dry_run: bool, now, directory=None) -> tuple[str, str | None, dict[str, Any] | None]:
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
    with write_unit(engine) as s:
        result = ingest(s, record, line.payload, config, now=now, platforms=("slack", "teams"), live=False, snapshot=directory)
    return ("duplicate" if result.duplicate else "imported"), None, None
