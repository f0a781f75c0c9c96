"""The outage spool: streamed in batches, one drainer at a time, resumable after a crash mid-drain."""

import fcntl

import pytest

from service.spool import Spool


def events(n: int, start: int = 0) -> list[dict]:
    return [
        {"event_id": f"e{i}", "visitor_id": f"v{i % 7}", "type": "page_view", "ts": 1.0 + i} for i in range(start, n)
    ]


class Applied:
    """Collects what the drain applies; fails once after `fail_after` batches (Redis gone again)."""

    def __init__(self, fail_after: int | None = None):
        self.batches: list[list[dict]] = []
        self.fail_after = fail_after

    def __call__(self, batch: list[dict]) -> None:
        if self.fail_after is not None and len(self.batches) == self.fail_after:
            self.fail_after = None
            raise ConnectionError("Redis went away again")
        self.batches.append(batch)

    @property
    def ids(self) -> list[str]:
        return [e["event_id"] for b in self.batches for e in b]


def test_drains_in_batches_and_leaves_nothing(tmp_path):
    spool = Spool(tmp_path)
    spool.add(events(1200))
    assert spool.pending() == 1200
    applied = Applied()
    assert spool.drain(applied, batch=500) == 1200
    assert [len(b) for b in applied.batches] == [500, 500, 200]
    assert spool.pending() == 0 and not spool.has_pending()


def test_a_failure_mid_drain_resumes_where_it_stopped(tmp_path):
    spool = Spool(tmp_path)
    spool.add(events(1200))
    first = Applied(fail_after=1)
    with pytest.raises(ConnectionError):
        spool.drain(first, batch=500)
    assert first.ids == [f"e{i}" for i in range(500)]
    spool.add(events(1300, start=1200))  # arrives while draining.jsonl waits: goes to pending.jsonl
    assert spool.pending() == 800
    second = Applied()
    assert spool.drain(second, batch=500) == 800
    assert second.ids == [f"e{i}" for i in range(500, 1300)]


def test_a_drainer_killed_before_recording_its_offset_reapplies_one_batch_at_most(tmp_path):
    spool = Spool(tmp_path)
    spool.add(events(1000))
    # the state a SIGKILLed drainer leaves: pending renamed to draining, a batch applied, no offset yet
    (tmp_path / "pending.jsonl").rename(tmp_path / "draining.jsonl")
    again = Applied()
    assert spool.drain(again, batch=400) == 1000  # from offset 0: the batch is applied twice, dedup drops it
    assert sorted(again.ids) == sorted(e["event_id"] for e in events(1000))


def test_only_one_drainer_at_a_time_and_it_never_waits(tmp_path):
    spool = Spool(tmp_path)
    spool.add(events(3))
    with open(spool.drain_lock_path, "a") as other_worker:
        fcntl.flock(other_worker, fcntl.LOCK_EX)
        assert spool.drain(Applied()) is None
        fcntl.flock(other_worker, fcntl.LOCK_UN)
    assert spool.drain(Applied()) == 3


def test_a_torn_last_line_is_skipped_and_the_next_event_starts_a_new_line(tmp_path):
    spool = Spool(tmp_path)
    spool.add(events(2))
    with open(spool.path, "ab") as handle:
        handle.write(b'{"event_id":"torn","visi')  # a writer died mid-line: its request was never answered
    spool.add(events(3, start=2))
    applied = Applied()
    assert spool.drain(applied) == 3
    assert applied.ids == ["e0", "e1", "e2"]


def test_the_spool_is_never_read_whole(tmp_path):
    """Batches are parsed as they are read: memory holds one batch, whatever the file's size."""
    spool = Spool(tmp_path)
    spool.add(events(2000))
    seen_sizes = []
    spool.drain(lambda batch: seen_sizes.append(len(batch)), batch=100)
    assert max(seen_sizes) == 100 and len(seen_sizes) == 20
