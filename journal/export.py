"""Every journal line about a set of ids (a subject-access request): events, decisions, profiles, in file order."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from journal.compact import ids_in_line
from journal.event_log import day_files

EXPORTED_LOGS = ("events", "decisions", "profiles")


@dataclasses.dataclass
class Export:
    lines: dict[str, list[dict]]
    """Log name -> its records naming one of the ids (as `visitor_id` or `user_id`, at any depth)."""
    truncated: bool = False
    """True when `max_lines` stopped the reading: there are more."""


def lines_about(data_dir: Path | str, ids: set[str], max_lines: int) -> Export:
    """The records of the data dir's logs that name one of `ids`, at most `max_lines` in all (oldest days first).

    Each line is first looked for the ids' JSON bytes (a substring test), and only a line holding one is
    parsed: the cost is one read of the logs. A line that does not parse (torn) is left out.
    """
    needles = [json.dumps(i).encode() for i in ids]
    export = Export({log: [] for log in EXPORTED_LOGS})
    count = 0
    for log in EXPORTED_LOGS:
        for path in day_files(Path(data_dir) / log):
            with open(path, "rb") as handle:
                for line in handle:
                    if not any(needle in line for needle in needles) or not ids & set(ids_in_line(line)):
                        continue
                    if count >= max_lines:
                        export.truncated = True
                        return export
                    try:
                        export.lines[log].append(json.loads(line))
                    except ValueError:
                        continue
                    count += 1
    return export
