"""What an erasure costs on a journal of a given size: finding the linked ids, the export's scan, the compaction.

    .venv/bin/python bench/erasure_cost.py                  # 200,000 events, 50,000 decisions
    .venv/bin/python bench/erasure_cost.py --events 1000000

Visitors have 20 events each, a third of them with a user id; one person is erased.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from journal.compact import compact  # noqa: E402
from journal.erasures import Erasures, erased_fields  # noqa: E402
from journal.event_log import read_daily_log  # noqa: E402
from journal.export import lines_about  # noqa: E402
from journal.links import linked_ids  # noqa: E402

DAY0 = 1_767_225_600.0


def write_logs(data_dir: Path, events: int, decisions: int) -> None:
    (data_dir / "events").mkdir(parents=True)
    (data_dir / "decisions").mkdir()
    with open(data_dir / "events" / "2026-01-01.jsonl", "w") as handle:
        for n in range(events):
            visitor = n // 20
            record = {"rv": 1, "event_id": f"e{n}", "visitor_id": f"v{visitor}", "type": "page_view"}
            record.update(user_id=f"u{visitor}" if n % 3 == 0 else None, ts=DAY0 + n * 0.01, channel="web")
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")
    with open(data_dir / "decisions" / "2026-01-01.jsonl", "w") as handle:
        for n in range(decisions):
            visitor = n * events // decisions // 20
            context = {"visitor_id": f"u{visitor}", "user_id": f"u{visitor}", "stage": "awareness"}
            record = {"rv": 1, "decision_id": f"d{n}", "visitor_id": f"v{visitor}", "user_id": f"u{visitor}"}
            record.update(ts=DAY0 + n, items=[{"item_id": "i1", "position": 0, "propensity": 0.5}], context=context)
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--decisions", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        write_logs(data_dir, args.events, args.decisions)
        size = sum(p.stat().st_size for p in data_dir.rglob("*.jsonl")) / 1e6
        print(f"journal: {args.events:,} events and {args.decisions:,} decisions, {size:.0f} MB")
        ids, seconds = timed(lambda: linked_ids(data_dir, "u7"))
        print(f"linked ids (the erasure's scan, on the request): {len(ids)} ids in {seconds:.2f} s")
        export, seconds = timed(lambda: lines_about(data_dir, ids, 10_000))
        print(f"export scan: {sum(map(len, export.lines.values()))} lines in {seconds:.2f} s")
        erasures = Erasures(data_dir)
        erasures.record(sorted(ids), by="bench", at=DAY0)
        _, seconds = timed(lambda: read_daily_log(data_dir / "events"))
        print(f"read_daily_log skipping the erased ids: {seconds:.2f} s")
        report, seconds = timed(lambda: compact(data_dir, erasures))
        print(f"compaction: {report.lines_dropped} lines blanked in {seconds:.2f} s ({size / seconds:.0f} MB/s)")
        print(f"the request path's check, per event (visitor and user id): {request_check_us(erasures):.1f} µs")


def request_check_us(erasures: Erasures, events: int = 100_000) -> float:
    """What service.ingest pays per event: a stat of the record and the keyed hashes of two ids."""
    started = time.perf_counter()
    for n in range(events):
        erased_fields(erasures, {"visitor_id": f"v{n % 5000}", "user_id": f"u{n % 5000}"})
    return (time.perf_counter() - started) / events * 1e6


if __name__ == "__main__":
    main()
