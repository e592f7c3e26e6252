"""`pulsebridge teams-package`: a zip Teams accepts — schema-valid manifest and the two icons it demands."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
import zlib

import jsonschema

from tests.conftest import shared_schema

APP_ID = "1a2b3c4d-0000-4000-8000-00000000abcd"
WEBSITE = "https://pulse.acme-corp.io"


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adapters.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def decode_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """Width, height and RGBA pixels of an unfiltered 8-bit RGBA PNG (what the writer produces)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour, interlace) == (8, 6, 0)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 4 * width
    pixels = []
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        assert row[0] == 0
        pixels += [tuple(row[1 + 4 * x : 5 + 4 * x]) for x in range(width)]
    return width, height, pixels


def test_package_validates_and_carries_bot_commands_and_icons(tmp_path):
    result = run_cli("teams-package", "--app-id", APP_ID, "--website", WEBSITE, "--out", str(tmp_path / "app.zip"), "--version", "1.4.0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr

    with zipfile.ZipFile(tmp_path / "app.zip") as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        color, outline = zf.read("color.png"), zf.read("outline.png")

    schema = shared_schema("teams-app-manifest.schema.json")
    jsonschema.Draft4Validator(schema).validate(manifest)
    assert manifest["manifestVersion"] == schema["properties"]["manifestVersion"]["const"] == "1.29"
    assert (manifest["id"], manifest["version"]) == (APP_ID, "1.4.0")

    (bot,) = manifest["bots"]
    assert bot["botId"] == APP_ID and {"personal", "team"} <= set(bot["scopes"])
    for scope in ("personal", "team"):
        (listing,) = [c for c in bot["commandLists"] if scope in c["scopes"]]
        assert [c["title"] for c in listing["commands"]] == ["kudos", "win", "pulse", "teamhealth", "goals"]

    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    width, height, pixels = decode_png(color)
    assert (width, height) == (192, 192) and all(p[3] == 255 for p in pixels)
    width, height, pixels = decode_png(outline)
    assert (width, height) == (32, 32)
    assert set(pixels) == {(0, 0, 0, 0), (255, 255, 255, 255)}  # white on transparent, nothing else


def test_bad_app_id_is_refused_and_nothing_written(tmp_path):
    result = run_cli("teams-package", "--app-id", "pulsebridge-bot", "--website", WEBSITE, "--out", str(tmp_path / "app.zip"), cwd=tmp_path)
    assert result.returncode == 2
    assert "--app-id must be the bot's Microsoft App ID, a GUID" in result.stderr
    assert not (tmp_path / "app.zip").exists()


def test_default_output_name(tmp_path):
    result = run_cli("teams-package", "--app-id", APP_ID, "--website", WEBSITE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert zipfile.is_zipfile(tmp_path / "pulsebridge-teams.zip")
