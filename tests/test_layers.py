"""The layer rules of docs/architecture.md, as import-linter contracts (pyproject.toml).

CI runs `lint-imports` too; running it here means `python -m pytest` alone catches a forbidden
import. The second test proves the contracts can fail: it copies the source tree, adds one
import the architecture forbids, and expects the run to break on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layer_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("bot/kernel/events.py", "import bot.recognition.kudos", "bot.kernel is not allowed to import bot.recognition"),
        ("storage/pulses/queries.py", "import bot.kernel.messages", "storage.pulses.queries -> bot.kernel.messages"),
        ("bot/pulses/answers.py", "import bot.recognition.kudos", "bot.pulses is not allowed to import bot.recognition"),
        ("bot/recognition/kudos.py", "import storage.pulses.queries", "bot.recognition.kudos -> storage.pulses.queries"),
        ("bot/kernel/messages.py", "import slack_sdk", "bot.kernel.messages -> slack_sdk"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, line, broken):
    for name in ("bot", "storage", "adapters"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout
