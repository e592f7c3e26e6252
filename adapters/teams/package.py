"""The Microsoft Teams app package: manifest.json plus the two icons Teams requires, zipped.

Icons are drawn here with a tiny PNG writer (zlib + struct), so building a package needs no
image library and gives the same bytes on every machine.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

MANIFEST_VERSION = "1.29"
ACCENT = "#1D3B53"
_ACCENT_RGB = (0x1D, 0x3B, 0x53)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")

COMMANDS = (
    ("kudos", "Thank colleagues: kudos @name for what they did #value"),
    ("win", "Record a customer win and celebrate who made it happen"),
    ("pulse", "Your open pulse questions (leads: pulse send)"),
    ("teamhealth", "Your team's pulse, recognition and customer signals (leads)"),
    ("goals", "Your team's shared employee and customer goals"),
)

Pixel = tuple[int, int, int, int]


def png(width: int, height: int, pixel: Callable[[int, int], Pixel]) -> bytes:
    """An 8-bit RGBA PNG; `pixel(x, y)` gives each pixel's colour."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _pulse_mark(x: float, y: float, size: int) -> bool:
    """A ring with a heartbeat line through it, in a size×size box (coordinates in pixels)."""
    u, v = (x + 0.5) / size, (y + 0.5) / size
    r = ((u - 0.5) ** 2 + (v - 0.5) ** 2) ** 0.5
    ring = 0.36 <= r <= 0.44
    # Heartbeat: flat, up, down, up, flat — as a polyline of (u, v) points.
    points = [(0.12, 0.55), (0.36, 0.55), (0.44, 0.32), (0.54, 0.72), (0.62, 0.48), (0.66, 0.55), (0.88, 0.55)]
    thickness = 0.05 if size >= 64 else 0.07
    for (x1, y1), (x2, y2) in zip(points, points[1:]):
        dx, dy = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((u - x1) * dx + (v - y1) * dy) / (dx * dx + dy * dy)))
        if ((u - x1 - t * dx) ** 2 + (v - y1 - t * dy) ** 2) ** 0.5 <= thickness / 2:
            return True
    return ring


def color_icon() -> bytes:
    """192×192, opaque: a white mark on the accent colour."""
    return png(192, 192, lambda x, y: (255, 255, 255, 255) if _pulse_mark(x, y, 192) else (*_ACCENT_RGB, 255))


def outline_icon() -> bytes:
    """32×32, white on transparent only, as Teams requires for the outline icon."""
    return png(32, 32, lambda x, y: (255, 255, 255, 255) if _pulse_mark(x, y, 32) else (0, 0, 0, 0))


def manifest(app_id: str, *, version: str, website: str, developer: str = "pulsebridge") -> dict:
    if not _GUID.match(app_id):
        raise ValueError(f"--app-id must be the bot's Microsoft App ID, a GUID like 00000000-0000-0000-0000-000000000000 (got {app_id!r})")
    if not _SEMVER.match(version):
        raise ValueError(f"--version must look like 1.2.3 (got {version!r})")
    if not website.startswith("https://"):
        raise ValueError(f"--website must be an https:// URL (got {website!r})")
    website = website.rstrip("/")
    commands = [{"title": name, "description": text} for name, text in COMMANDS]
    return {
        "$schema": f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json",
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": app_id,
        "developer": {
            "name": developer[:32],
            "websiteUrl": website,
            "privacyUrl": f"{website}/privacy",
            "termsOfUseUrl": f"{website}/terms",
        },
        "name": {"short": "pulsebridge", "full": "pulsebridge: pulses, kudos and customer wins"},
        "description": {
            "short": "Micro-pulses, kudos and customer wins, right where your team works.",
            "full": (
                "pulsebridge links how your people feel to how your customers fare. It sends one-tap micro-pulses "
                "by chat (anonymous by construction, summarised only for groups above a minimum size), lets "
                "colleagues thank each other with kudos and celebrate customer wins, relays praise from customers "
                "to the employee who earned it, and gives team leads team health and shared goals in Teams. "
                "Self-hosted: your data stays on your own infrastructure."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team"],
                "isNotificationOnly": False,
                "supportsFiles": False,
                "commandLists": [
                    {"scopes": ["personal"], "commands": commands},
                    {"scopes": ["team"], "commands": commands},
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [],
    }


def write_package(out: Path, app_id: str, *, version: str, website: str) -> Path:
    """Write the zip (manifest.json and icons at its root, as Teams expects) and return its path."""
    data = manifest(app_id, version=version, website=website)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        zf.writestr("color.png", color_icon())
        zf.writestr("outline.png", outline_icon())
    return out
