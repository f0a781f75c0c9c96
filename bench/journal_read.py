"""The journal's event reader on one day file, clean and after a crash left a torn last line.

    .venv/bin/python bench/journal_read.py                 # 300,000 events in a temporary folder
    .venv/bin/python bench/journal_read.py --events 1000000

Each case is read three times; the median is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from journal.event_log import read_daily_log  # noqa: E402

DAY0 = 1_767_225_600.0


def write_day(path: Path, count: int) -> None:
    with open(path, "w") as handle:
        for n in range(count):
            record = {"rv": 1, "event_id": f"e{n}", "visitor_id": f"v{n % 5000}", "type": "page_view"}
            record.update(ts=DAY0 + n * 0.01, channel="web", item_id=f"i{n % 50}", properties={})
            handle.write(json.dumps(record) + "\n")


def median_seconds(directory: Path) -> tuple[float, int, int]:
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        events = read_daily_log(directory)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), len(events), events.attrs["bad_lines"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp())
    path = directory / "2026-01-01.host.jsonl"
    write_day(path, args.events)
    for case in ("clean", "torn last line"):
        if case != "clean":
            with open(path, "a") as handle:
                handle.write('{"rv":1,"event_id":"torn","visi')
        seconds, events, bad = median_seconds(directory)
        print(f"{case:<15} {events:>10,} events  {bad} bad lines  {seconds:.2f} s")


if __name__ == "__main__":
    main()
