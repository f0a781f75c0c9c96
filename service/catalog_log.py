"""The durable record of the catalog: every YAML seed and API edit, on local disk, so Redis can lose it.

JSON Lines under `<data_dir>/catalog/edits.jsonl`, one record per change, appended with fsync
before Redis is written, under an exclusive lock that also orders the Redis writes of this
host's workers. Replaying the records gives exactly what Redis should hold. When Redis is
re-seeded the file is compacted to one `snapshot` record (written aside, then renamed).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from pathlib import Path

from models.errors import DiskUnavailable

log = logging.getLogger(__name__)


class CatalogLog:
    """Records: snapshot (the whole state), seed (the YAML's entries written over), put_*/delete_*."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "edits.jsonl"
        self.lock_path = self.directory / "edits.lock"

    @contextlib.contextmanager
    def locked(self):
        with open(self.lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, record: dict) -> None:
        """Durable before it returns, or DiskUnavailable (the edit is then refused, Redis untouched)."""
        line = (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                end = os.lseek(fd, 0, os.SEEK_END)
                torn = end and os.pread(fd, 1, end - 1) != b"\n"  # a writer died mid-line
                os.write(fd, (b"\n" if torn else b"") + line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise DiskUnavailable(f"cannot record the catalog edit in {self.path}: {exc.strerror}") from exc

    def exists(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def replay(self) -> tuple[dict[str, dict], dict[str, dict], str | None]:
        """(items, placements, fingerprint of the YAML last seeded) after every record in order."""
        items: dict[str, dict] = {}
        placements: dict[str, dict] = {}
        fingerprint = None
        for record in self._records():
            op = record["op"]
            if op == "snapshot":
                items, placements = dict(record["items"]), dict(record["placements"])
            if op in ("snapshot", "seed"):
                fingerprint = record["fingerprint"]
            if op == "seed":
                items.update(record["items"])
                placements.update(record["placements"])
            elif op == "put_item":
                items[record["id"]] = record["value"]
            elif op == "delete_item":
                items.pop(record["id"], None)
            elif op == "put_placement":
                placements[record["id"]] = record["value"]
            elif op == "delete_placement":
                placements.pop(record["id"], None)
        return items, placements, fingerprint

    def compact(self, items: dict[str, dict], placements: dict[str, dict], fingerprint: str) -> None:
        """Replace the records by one snapshot of the same state (atomic rename; best effort)."""
        record = {"op": "snapshot", "items": items, "placements": placements, "fingerprint": fingerprint}
        temporary = self.path.with_suffix(".tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write((json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("catalog log not compacted (it stays correct, only longer): %s", exc)

    def _records(self):
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return
        with handle:
            for number, line in enumerate(handle, 1):
                try:
                    yield json.loads(line)
                except ValueError:
                    log.warning("skipping unreadable catalog log line %d of %s", number, self.path)
