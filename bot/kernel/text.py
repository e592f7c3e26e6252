"""Normalising text users type before it is stored."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """NFC, no control characters (PostgreSQL rejects NUL), trimmed; newlines and tabs survive."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()


def excerpt(text: str, limit: int = 40) -> str:
    """What someone typed, quoted back in an error: trimmed and at most `limit` characters."""
    text = " ".join(clean(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
