"""Reading request bodies with a size limit, for the routes that read the raw body themselves
(signatures are computed over the exact bytes, so aiohttp's own parsers are not used there)."""

from __future__ import annotations

from aiohttp import web


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it exceeds `limit` (chunked senders give no length)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
