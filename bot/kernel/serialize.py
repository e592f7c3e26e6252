"""Neutral messages, destinations and inbound events to JSON and back, so the outbox can resend
what it stored and an accepted request can be processed after a restart."""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.kernel import events as e
from bot.kernel import messages as m
from bot.kernel.ports import ChannelPost, Destination, DirectMessage

# Every dataclass of the message model, so a block added to bot/kernel/messages.py round-trips without a change here.
_TYPES = {
    name: cls
    for name, cls in vars(m).items()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == m.__name__
}
_TYPES.update({"DirectMessage": DirectMessage, "ChannelPost": ChannelPost})
_EVENTS = {
    name: cls
    for name, cls in vars(e).items()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == e.__name__
}


def to_data(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {"_t": type(value).__name__, **{f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, (tuple, list)):
        return [to_data(v) for v in value]
    return value


def from_data(data: Any, types: dict[str, type] = _TYPES) -> Any:
    if isinstance(data, dict) and "_t" in data:
        cls = types[data["_t"]]
        kwargs = {k: from_data(v, types) for k, v in data.items() if k != "_t"}
        return cls(**kwargs)
    if isinstance(data, list):
        return tuple(from_data(v, types) for v in data)
    return data


def event_from_data(data: dict[str, Any]) -> Any:
    """An inbound event stored by `to_data`. Plain dicts inside it (a click's `inputs`, a form's
    `values`) come back exactly as JSON gave them: a multi-select stays a list."""
    types = {**_TYPES, **_EVENTS}

    def load(value: Any, plain: bool) -> Any:
        if isinstance(value, dict) and "_t" in value:
            cls = types[value["_t"]]
            return cls(**{k: load(v, False) for k, v in value.items() if k != "_t"})
        if isinstance(value, dict):
            return {k: load(v, True) for k, v in value.items()}
        if isinstance(value, list):
            return [load(v, True) for v in value] if plain else tuple(load(v, False) for v in value)
        return value

    event = load(data, False)
    if type(event) not in (e.CommandInvoked, e.ActionInvoked, e.FormSubmitted):
        raise ValueError("not a stored inbound event")
    return event


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
