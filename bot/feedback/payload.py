"""JSON from outside (signed webhooks, import lines) read with limits, so no payload can crash a reader.

The standard parser accepts what later code cannot handle: 200,000 nested arrays (RecursionError
in the parser or in whatever walks the result), a 400-digit integer (OverflowError the moment it
meets float()) or a 5,000-digit one (ValueError past Python's int-string limit), NaN and Infinity.
Each of those is refused here with a reason a sender can act on.
"""

from __future__ import annotations

import json
from typing import Any

from bot.feedback.record import MalformedFeedback

MAX_DEPTH = 32
MAX_INT_DIGITS = 30


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise MalformedFeedback("body", f"a number has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise MalformedFeedback("body", "a number is too large")
    return value


def _constant(name: str) -> Any:
    raise MalformedFeedback("body", f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """Nesting depth, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return depth
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def load(text: str) -> Any:
    """The JSON value in `text`, or MalformedFeedback("body", why)."""
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except MalformedFeedback:
        raise
    except RecursionError:
        raise MalformedFeedback("body", f"JSON is nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise MalformedFeedback("body", f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:  # int() past the interpreter's digit limit, a float the parser gave up on
        raise MalformedFeedback("body", f"not valid JSON ({str(exc)[:80]})") from None
    if _depth(value) > MAX_DEPTH:
        raise MalformedFeedback("body", f"JSON is nested more than {MAX_DEPTH} levels deep")
    return value
