"""The README's two commands, run as a newcomer runs them: in a fresh clone, a fresh virtualenv, from the shell.

Slow (the install alone takes minutes on 2 cores): `python -m pytest -m "not slow"` leaves it out; CI runs it.
The only changes to the commands as printed: the demo gets a free `--port` (8000 may be taken on a
shared machine), and the test command runs tests/test_docs.py plus a collection of every test, not the
whole suite again from inside itself.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_cli import free_port

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TIMEOUT = 1200


def readme_block(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.search(rf"## {re.escape(title)}\n\n```sh\n(.+?)\n```", text, re.S).group(1).strip()


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the fresh-clone test: no git checkout here")
        pytest.skip("not a git checkout")
    where = tmp_path_factory.mktemp("fresh") / "pulsebridge"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(where)], check=True, timeout=300)
    return where


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "MICROSOFT_", "PULSEBRIDGE_", "DATABASE_URL", "FEEDBACK_", "VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    return env


@pytest.mark.slow
def test_try_it_then_run_the_tests_from_a_fresh_clone(clone):
    try_it = readme_block("Try it")
    assert try_it.endswith("&& pulsebridge demo"), try_it
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(["bash", "-c", f"{try_it} --port {port}"], cwd=clone, env=clean_env(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        page = None
        while page is None and time.monotonic() - started < INSTALL_TIMEOUT and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:  # "/" goes to the playground
                    page = (resp.url, resp.read().decode())
            except OSError:
                time.sleep(1)
        if page is None:
            output = proc.stdout.read() if proc.poll() is not None else "(still running)"
            pytest.fail(f"the Try it command never served the playground ({time.monotonic() - started:.0f} s): {output[-3000:]}")
        assert page[0].endswith("/playground") and "<title>" in page[1]
        print(f"fresh clone: install + demo answering after {time.monotonic() - started:.0f} s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    test_command = readme_block("Run the tests")
    assert test_command == "python -m pytest"
    shell = ". .venv/bin/activate && "
    collected = subprocess.run(["bash", "-c", shell + test_command + " --collect-only -q"], cwd=clone, env=clean_env(),
                               capture_output=True, text=True, timeout=600)
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    count = int(re.search(r"(\d+) tests? collected", collected.stdout).group(1))
    assert count > 500, collected.stdout[-500:]
    docs = subprocess.run(["bash", "-c", shell + test_command + " tests/test_docs.py -q"], cwd=clone, env=clean_env(),
                          capture_output=True, text=True, timeout=600)
    assert docs.returncode == 0 and re.search(r"\d+ passed", docs.stdout), docs.stdout[-3000:]
