"""Throughput of `pulsebridge feedback import` on a seeded directory.

    python benchmarks/feedback_import.py [--rows 2000] [--people 300] [--database-url URL]

Without --database-url a fresh SQLite file in a temporary directory is used. With a PostgreSQL URL,
point it at an empty schema (e.g. `?options=-csearch_path%3Dbench`). Runs the import twice: the
second run is all duplicates.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.directory.lookup import store_profile  # noqa: E402
from bot.kernel.events import Profile  # noqa: E402
from storage.kernel.db import make_engine, session  # noqa: E402
from storage.kernel.migrate import upgrade  # noqa: E402

NAMES = ["Maria Lopez", "Carla Diaz", "Guillermo Santos", "Siobhan O'Neill", "Priyanka Raman", "Tom Becker", "Yuki Tanaka"]
TEXTS = ["Carla fixed it, thanks!", "Great team", "Guillermo was wonderful", "slow and unhelpful", "Siobhan rocks", "Thanks Yuki!"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session(engine) as s, s.begin():
        for i in range(args.people):
            name = NAMES[i] if i < len(NAMES) else f"Person{i} Surname{i}"
            store_profile(s, Profile("slack", f"U{i:05}", name, f"p{i}@corp.example"))
    engine.dispose()
    rng = random.Random(1)
    export = tmp / "export.csv"
    with export.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "id", "customer_name", "score", "scale", "text"])
        for i in range(args.rows):
            writer.writerow(["bench", f"r{i}", "Customer", rng.choice([1, 3, 5, 5, 5]), "csat5", rng.choice(TEXTS)])
    env = {k: v for k, v in os.environ.items() if k != "PULSEBRIDGE_CONFIG"}
    env["DATABASE_URL"] = url
    for label in ("first import", "re-import (all duplicates)"):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "adapters.cli", "feedback", "import", str(export)], env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        print(f"{label}: {elapsed:.1f} s, {args.rows / elapsed:.0f} rows/s — {done.stderr.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
