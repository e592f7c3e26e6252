"""Routing quality on the labelled set: precision and recall of who customer praise is relayed to.

    python benchmarks/feedback_routing.py [--set benchmarks/feedback_routing.jsonl] [--markdown]

Every record goes through the real parsers, classifier and router (no database: the benchmark
directory and config live in feedback_directory.py; a record's `directory` field names the pretend
company it is labelled against, `main` when absent). A prediction is an employee or "triage";
feedback that is not praise is never relayed, so it counts as "triage".
precision = right employee / relayed to any employee; recall = right employee / labelled with an employee.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.feedback_directory import CONFIG, directory  # noqa: E402
from bot.feedback.classify import classify  # noqa: E402
from bot.feedback.parsers import parse  # noqa: E402
from bot.feedback.routing import route  # noqa: E402


def predict(payload, dirx):
    record = parse(payload)
    if not classify(record, CONFIG.thresholds).is_kudos:
        return "triage", "not_kudos", record
    decision = route(record, dirx, CONFIG)
    return (decision.employee.key if decision.employee else "triage"), decision.method, record


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default=str(Path(__file__).with_name("feedback_routing.jsonl")))
    parser.add_argument("--markdown", action="store_true", help="print the README table rows")
    parser.add_argument("--name-threshold", type=float, help="override thresholds.name_match (rapidfuzz ratio)")
    args = parser.parse_args()
    if args.name_threshold is not None:
        CONFIG.thresholds.name_match = args.name_threshold
    rows = [json.loads(line) for line in Path(args.set).read_text(encoding="utf-8").splitlines() if line.strip()]
    directories = {name: directory(name) for name in {row.get("directory", "main") for row in rows}}
    started = time.perf_counter()
    per_case: dict[str, Counter] = defaultdict(Counter)
    methods = Counter()
    wrong, missed, false_relay = [], [], []
    tp = relayed = labelled = 0
    for row in rows:
        got, method, record = predict(row["payload"], directories[row.get("directory", "main")])
        want = row["expected"]
        methods[method] += 1
        case = per_case[row["case"]]
        case["n"] += 1
        case["ok"] += got == want
        if got != "triage":
            relayed += 1
        if want != "triage":
            labelled += 1
        if got != "triage" and got == want:
            tp += 1
        elif got != "triage" and want != "triage":
            wrong.append((row["case"], record.text, want, got, method))
        elif got != "triage":
            false_relay.append((row["case"], record.text, want, got, method))
        elif want != "triage":
            missed.append((row["case"], record.text, want, method))
    elapsed = time.perf_counter() - started
    precision = tp / relayed if relayed else 1.0
    recall = tp / labelled if labelled else 1.0
    print(f"records {len(rows)} · labelled with an employee {labelled} · relayed {relayed} · right person {tp}")
    print(f"precision {precision:.3f} · recall {recall:.3f} · {elapsed * 1000 / len(rows):.2f} ms per record")
    print("decided by: " + ", ".join(f"{m} {n}" for m, n in methods.most_common()))
    print("\nper case (right / total):")
    for name, c in sorted(per_case.items()):
        print(f"  {name:24} {c['ok']:3}/{c['n']:<3}")
    for title, items in (("wrong person", wrong), ("relayed although triage was right", false_relay), ("missed (triage instead of the person)", missed)):
        print(f"\n{title}: {len(items)}")
        for item in items:
            print("  " + " | ".join(str(x) for x in item))
    if args.markdown:
        threshold = CONFIG.thresholds.name_match
        print(f"\n| {len(rows)} | {threshold:g} | {precision:.3f} | {recall:.3f} | {len(wrong) + len(false_relay)} | {len(missed)} |")


if __name__ == "__main__":
    main()
