"""Test-only: a child process a test starts under `--clock` runs on the parent's moved clock.

`tests.conftest.child_env` puts this folder on PYTHONPATH and the parent's offset from the real clock
(seconds) in PULSEBRIDGE_CHILD_CLOCK_OFFSET; production code never reads either.
"""

import os

if os.environ.get("PULSEBRIDGE_CHILD_CLOCK_OFFSET"):
    import time

    import time_machine

    time_machine.travel(time.time() + float(os.environ["PULSEBRIDGE_CHILD_CLOCK_OFFSET"]), tick=True).start()
