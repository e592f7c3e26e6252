"""Neutral messages and destinations to JSON and back, so the outbox can resend what it stored."""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.kernel import messages as m
from bot.kernel.ports import ChannelPost, Destination, DirectMessage

# Every dataclass of the message model, so a block added to bot/kernel/messages.py round-trips without a change here.
_TYPES = {
    name: cls
    for name, cls in vars(m).items()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == m.__name__
}
_TYPES.update({"DirectMessage": DirectMessage, "ChannelPost": ChannelPost})


def to_data(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {"_t": type(value).__name__, **{f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, (tuple, list)):
        return [to_data(v) for v in value]
    return value


def from_data(data: Any) -> Any:
    if isinstance(data, dict) and "_t" in data:
        cls = _TYPES[data["_t"]]
        kwargs = {k: from_data(v) for k, v in data.items() if k != "_t"}
        return cls(**kwargs)
    if isinstance(data, list):
        return tuple(from_data(v) for v in data)
    return data


def message_from_data(data: dict[str, Any]) -> m.Message:
    message = from_data(data)
    if not isinstance(message, m.Message):
        raise ValueError("not a stored message")
    return message


def destination_from_data(data: dict[str, Any]) -> Destination:
    destination = from_data(data)
    if not isinstance(destination, (DirectMessage, ChannelPost)):
        raise ValueError("not a stored destination")
    return destination
