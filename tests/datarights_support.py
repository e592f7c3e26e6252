"""Helpers for the data-rights tests: the CLI as a subprocess, and every row of every table as text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlmodel import SQLModel

from storage.kernel.db import session
from storage.schema import import_all_tables
from tests.conftest import child_env


def cli(cwd: Path, database_url: str, *args: str, config: Path | None = None, input: str | None = None, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "PULSEBRIDGE_", "DATABASE_URL", "FEEDBACK_"))}
    env["DATABASE_URL"] = database_url
    env.update(env_extra or {})
    if config is not None:
        env["PULSEBRIDGE_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args], cwd=cwd, env=child_env(env), capture_output=True, text=True, timeout=120, input=input
    )


def all_rows(engine) -> dict[str, list[str]]:
    """Every table SQLModel knows (each feature's too), every row rendered as one JSON string, sorted."""
    import_all_tables()
    out: dict[str, list[str]] = {}
    with session(engine) as s:
        for table in SQLModel.metadata.sorted_tables:
            rows = s.execute(select(table)).mappings().all()
            out[table.name] = sorted(json.dumps(dict(row), default=str, sort_keys=True, ensure_ascii=False) for row in rows)
    return out


def rows_mentioning(engine, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, needle, row) for each row that still contains one of the needles, case-insensitively."""
    found = []
    for table, rows in all_rows(engine).items():
        for row in rows:
            for needle in needles:
                if needle.lower() in row.lower():
                    found.append((table, needle, row))
    return found
