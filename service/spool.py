"""Events accepted while Redis was unreachable wait here, on local disk, until they can be applied."""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class Spool:
    """A JSON Lines file of pending events, shared by workers under an exclusive file lock."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "pending.jsonl"
        self.lock_path = self.directory / "pending.lock"

    def add(self, events: list[dict]) -> None:
        payload = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events).encode()
        with self._locked():
            with open(self.path, "ab") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())

    def pending(self) -> int:
        try:
            with open(self.path, "rb") as handle:
                return sum(1 for line in handle if line.strip())
        except FileNotFoundError:
            return 0

    def drain(self, apply: Callable[[list[dict]], object], batch: int = 500) -> int:
        """Apply every spooled event (in batches); the file is emptied only once all succeeded."""
        with self._locked():
            try:
                lines = self.path.read_text().splitlines()
            except FileNotFoundError:
                return 0
            events = [json.loads(line) for line in lines if line.strip()]
            for start in range(0, len(events), batch):
                apply(events[start : start + batch])
            self.path.unlink()
        if events:
            log.info("replayed %d spooled events", len(events))
        return len(events)

    def _locked(self):
        return _FileLock(self.lock_path)


class _FileLock:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.handle = open(self.path, "a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
