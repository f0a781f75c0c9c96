"""The audit record's storage: day files under `<data_dir>/audit/`, one JSON line per admin change.

{ts, key_id, key_name, method, route, target, status}. The API (service/audit.py) and the key
CLI (`python -m training keys`) write here; `GET /v1/audit` reads it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from journal.event_log import day_files
from journal.writer import DailyLog

MAX_READ = 1000


class AuditLog:
    def __init__(self, data_dir: Path | str, host: str = ""):
        self.directory = Path(data_dir) / "audit"
        self.log = DailyLog(self.directory, host=host)

    def record(self, key_id: str, key_name: str, method: str, route: str, target: dict, status: int) -> None:
        """One change, durably (fsync'd) before the caller answers."""
        entry = {"ts": time.time(), "key_id": key_id, "key_name": key_name, "method": method, "route": route}
        self.log.append([{**entry, "target": target, "status": status}])

    def read(self, since: float, until: float, limit: int) -> list[dict]:
        """Records with since <= ts < until, newest first, at most `limit` (and MAX_READ)."""
        found = []
        for path in day_files(self.directory, since, until):
            for line in path.read_text(errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a torn last line
                if isinstance(entry, dict) and since <= entry.get("ts", 0) < until:
                    found.append(entry)
        found.sort(key=lambda entry: entry["ts"], reverse=True)
        return found[: min(limit, MAX_READ)]
