"""Test-only: a child process a test starts under `--clock` begins at the parent's moved time.

`tests.conftest.child_env` puts this folder on PYTHONPATH and the parent's current (moved) instant in
PULSEBRIDGE_CHILD_CLOCK; production code never reads either.
"""

import os

if os.environ.get("PULSEBRIDGE_CHILD_CLOCK"):
    from datetime import datetime

    import time_machine

    time_machine.travel(datetime.fromisoformat(os.environ["PULSEBRIDGE_CHILD_CLOCK"]), tick=True).start()
