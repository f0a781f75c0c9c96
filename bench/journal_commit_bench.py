"""Journal appends per second and fsyncs per append, one record a call, for 1, 4 and 16 threads:
`sync` (DailyLog: a write and an fsync per call, as before group commit), `events` (SharedCommit: callers
that wait together share one write and fsync; each is on disk when its call returns), `decisions`
(BackgroundCommit, 5 ms: the call returns at once, a thread writes and fsyncs every 5 ms; close() at the
end is counted in the time).

    .venv/bin/python bench/journal_commit_bench.py [--seconds 2] [--rounds 3] [--dir /var/tmp/wayfinder-bench]

Give --dir a folder on the disk the journal lives on: on tmpfs an fsync costs nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from journal.group_commit import BackgroundCommit, SharedCommit  # noqa: E402
from journal.writer import DailyLog  # noqa: E402

KINDS = ("sync", "events", "decisions")
RECORD = {"visitor_id": "v-123456", "type": "product_view", "channel": "web", "item_id": "hero_x5_m_sport"}


def run(kind: str, threads: int, seconds: float, directory: Path) -> tuple[float, float, float]:
    """(appends per second, fsyncs per append, CPU microseconds per append)."""
    log = DailyLog(directory, host="bench")
    writer = {"sync": log, "events": SharedCommit(log), "decisions": BackgroundCommit(log, 0.005)}[kind]
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(index: int) -> None:
        while time.monotonic() < stop:
            writer.append_or_refuse([{**RECORD, "event_id": uuid.uuid4().hex, "ts": time.time()}], "bench", "-")
            counts[index] += 1

    start, cpu = time.perf_counter(), time.process_time()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if kind == "decisions":
        writer.close()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    appends = max(sum(counts), 1)
    fsyncs = appends if kind == "sync" else writer.flushes
    return appends / elapsed, fsyncs / appends, cpu * 1e6 / appends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3, help="each figure is the median of this many runs")
    parser.add_argument("--dir", type=Path, default=None, help="a folder on the journal's disk (default: a temp dir)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="journal-bench-", dir=args.dir))
    try:
        print(f"{'writer':<10} {'threads':>7} {'appends/s':>10} {'fsyncs/append':>14} {'CPU us/append':>14}")
        for threads in (1, 4, 16):
            figures: dict[str, list[tuple[float, float, float]]] = {kind: [] for kind in KINDS}
            for round_ in range(args.rounds):  # the kinds take turns, so a noisy neighbour hits each alike
                for kind in KINDS:
                    figures[kind].append(run(kind, threads, args.seconds, root / f"{kind}-{threads}-{round_}"))
            for kind in KINDS:
                rate, per, cpu = (statistics.median(column) for column in zip(*figures[kind], strict=True))
                print(f"{kind:<10} {threads:>7} {rate:>10,.0f} {per:>14.3f} {cpu:>14.0f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
