"""Logging for operators: JSON lines when stderr is not a terminal, and no secrets in any line.

Redaction happens in a filter on the handler, so it covers every logger (ours, Bolt, slack_sdk,
botbuilder, aiohttp) and exception tracebacks too. Tokens are recognised by shape; other secrets
(signing secret, app password, database password) are registered by value at start-up.
User-entered text (pulse answers, comments, kudos reasons) is never passed to a logger by our code.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

REDACTED = "[redacted]"
_PATTERNS = [
    re.compile(r"\bxox[abposre]-[A-Za-z0-9-]+"),  # Slack bot/user/refresh tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),  # Slack app-level tokens
    re.compile(r"(?i)\b(Bearer)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+(@)"),  # passwords in URLs
    re.compile(r"(?i)\b((?:client_)?secret|password|token)(\"?\s*[=:]\s*\"?)[^\s\"',}&]+"),
]


class RedactingFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add_secrets(self, *values: str | None) -> None:
        self.secrets.update(v for v in values if v and len(v) >= 6)

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: _keep_groups(m), text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _keep_groups(match: re.Match) -> str:
    """Keep the labels a pattern captured (e.g. "Bearer ", "password=") and redact the value."""
    groups = [g for g in match.groups() if g is not None]
    if not groups:
        return REDACTED
    if len(groups) == 1:
        return f"{groups[0]} {REDACTED}"
    if groups[-1] == "@":
        return f"{groups[0]}{REDACTED}@"
    return f"{groups[0]}{groups[1]}{REDACTED}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


REDACTION = RedactingFilter()


def configure(level: int = logging.INFO, *, json_lines: bool | None = None) -> None:
    """Log to stderr: JSON lines unless stderr is a terminal (then the classic one-line format)."""
    handler = logging.StreamHandler(sys.stderr)
    use_json = not sys.stderr.isatty() if json_lines is None else json_lines
    handler.setFormatter(JsonFormatter() if use_json else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(REDACTION)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
