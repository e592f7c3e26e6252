"""The playground's conversations: what the bot and people posted, kept in memory for the demo's lifetime."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.kernel.messages import Form, Message


@dataclass
class Post:
    id: int
    conversation: str  # "dm:<handle>" or "team:<slug>"
    content: Message | Form
    author: str  # "bot" or a person's handle
    visible_to: str | None = None  # set for ephemeral answers and forms
    errors: dict[str, str] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    version: int = 0


class PlaygroundStore:
    def __init__(self) -> None:
        self.posts: dict[int, Post] = {}
        self._ids = itertools.count(1)
        self.version = 0
        self._changed = asyncio.Event()
        self.closing = False

    def close(self) -> None:
        """Release every long-poll at shutdown so the server can stop at once."""
        self.closing = True
        self._changed.set()

    def _touch(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def add(self, conversation: str, content: Message | Form, author: str = "bot", visible_to: str | None = None) -> Post:
        post = Post(next(self._ids), conversation, content, author, visible_to)
        self.posts[post.id] = post
        self._touch()
        return post

    def replace(self, post_id: int, content: Message | Form, errors: dict[str, str] | None = None) -> None:
        post = self.posts.get(post_id)
        if post is None:
            raise KeyError(post_id)
        post.content = content
        post.errors = errors or {}
        post.version += 1
        self._touch()

    def remove(self, post_id: int) -> None:
        if self.posts.pop(post_id, None) is not None:
            self._touch()

    def post_for(self, post_id: object, viewer: str) -> Post | None:
        """A post the viewer can see and so click: their own DM or a team channel, not someone else's DM or answer."""
        post = self.posts.get(post_id) if isinstance(post_id, int) else None
        if post is None or post.visible_to not in (None, viewer):
            return None
        if post.conversation.startswith("dm:") and post.conversation != f"dm:{viewer}":
            return None
        return post

    def visible(self, conversation: str, viewer: str) -> list[Post]:
        return [p for p in self.posts.values() if p.conversation == conversation and p.visible_to in (None, viewer)]

    async def wait_for_change(self, since: int, timeout: float) -> None:
        if self.version != since or self.closing:
            return
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass

    def clear(self) -> None:
        self.posts.clear()
        self._touch()
