"""The Slack contract: every Block Kit payload the suite sends is type-checked against `@slack/types`.

The fake Slack Web API keeps each payload it receives (chat.postMessage, chat.update,
chat.postEphemeral, response_url, views.open/update/push/publish, and the views the bot returns
in a view_submission ack); `fake_slack` hands them here with the id of the test that produced
them. At the end of the session they are written as one TypeScript file, each payload typed as
what Slack's own SDK says it must be (`KnownBlock[]` for messages, `ModalView`/`HomeView` for
views), and `tsc --noEmit` checks them all in one run. An error names the test and the method.

The TypeScript side lives in tests/blockkit/ (package.json + package-lock.json; `npm ci` there,
which .ci/run does). Without its node_modules the check is skipped with a warning, except under
CI=true, where it fails: CI must never pass without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "blockkit"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TSC = HERE / "node_modules" / "typescript" / "bin" / "tsc"
TYPES = {"blocks": "KnownBlock[]", "modal": "ModalView", "home": "HomeView"}

# (test id, method, kind, payload), deduplicated by content: the suite sends the same few shapes often.
_seen: dict[str, tuple[str, str, str, Any]] = {}


def record(test_id: str, method: str, kind: str, payload: Any) -> None:
    if kind == "view":
        kind = "home" if isinstance(payload, dict) and payload.get("type") == "home" else "modal"
    digest = hashlib.sha256(json.dumps([kind, payload], sort_keys=True).encode()).hexdigest()
    _seen.setdefault(digest, (test_id, method, kind, payload))


def recorded() -> list[tuple[str, str, str, Any]]:
    return list(_seen.values())


def typescript(items: list[tuple[str, str, str, Any]]) -> str:
    """One `const` per payload, typed with @slack/types; a comment above each names its source."""
    lines = ['import type { KnownBlock, ModalView, HomeView } from "@slack/types";', ""]
    for i, (test_id, method, kind, payload) in enumerate(items):
        source = f"{test_id} [{method}]".replace("*/", "* /")
        lines.append(f"/* payload {i}: {source} */")
        lines.append(f"export const p{i}: {TYPES[kind]} = {json.dumps(payload, ensure_ascii=False)};")
    return "\n".join(lines) + "\n"


def check(items: list[tuple[str, str, str, Any]], workdir: Path) -> list[str]:
    """Run tsc over the payloads; the errors, each with the test and method that sent the payload.

    The .ts file is written under tests/blockkit/ (git-ignored) so "@slack/types" resolves from
    its node_modules; a copy of the payloads as JSON goes to `workdir` for reading.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    generated = HERE / ".generated"
    generated.mkdir(exist_ok=True)
    source = generated / f"payloads-{os.getpid()}.ts"
    source.write_text(typescript(items), encoding="utf-8")
    project = generated / f"tsconfig-{os.getpid()}.json"
    project.write_text(json.dumps({"extends": "../tsconfig.json", "files": [source.name]}), encoding="utf-8")
    (workdir / "payloads.json").write_text(json.dumps([list(i) for i in items], ensure_ascii=False, indent=1), encoding="utf-8")
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    done = subprocess.run(
        [node, str(TSC), "--project", str(project), "--pretty", "false"],
        cwd=HERE, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    project.unlink()
    if done.returncode == 0:
        source.unlink()
        return []
    starts = [i for i, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1) if line.startswith("export const p")]
    errors = []
    for line in (done.stdout + done.stderr).splitlines():
        match = re.match(r".*payloads-\d+\.ts\((\d+),\d+\): (.*)", line)
        if not match:
            if line.strip() and not line.startswith(" "):
                errors.append(line)
            continue
        at = int(match.group(1))
        index = max((n for n, start in enumerate(starts) if start <= at), default=None)
        who = f"{items[index][0]} [{items[index][1]}]" if index is not None else "?"
        errors.append(f"{who}: {match.group(2)}")
    return errors or [done.stdout + done.stderr]


def available() -> bool:
    return TSC.is_file() and (HERE / "node_modules" / "@slack" / "types").is_dir() and shutil.which("node") is not None


def session_finish(session) -> None:
    """pytest_sessionfinish: type-check what this session sent; a failure fails the run."""
    items = recorded()
    if not items or session.config.getoption("collectonly", False):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    say = reporter.write_line if reporter else print
    if not available():
        message = f"Block Kit contract: {HERE}/node_modules missing (run `npm ci` in tests/blockkit); {len(items)} payload(s) not type-checked"
        if os.environ.get("CI") == "true":
            say("FAILED " + message)
            session.exitstatus = 1
        else:
            say("WARNING " + message)
        return
    errors = check(items, ARTIFACTS / "blockkit")
    if errors:
        say(f"FAILED Block Kit contract: {len(errors)} error(s) against @slack/types (payloads in test-artifacts/blockkit/):")
        for error in errors[:50]:
            say("  " + error)
        session.exitstatus = 1
    else:
        say(f"Block Kit contract: {len(items)} distinct payload(s) type-check against @slack/types")
