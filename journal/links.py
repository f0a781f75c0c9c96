"""The ids linked to an id: visitor ids and user ids that appear together on an event or a decision, transitively.

An erasure covers a person, not one device: the user id and every visitor (device) id it was seen with,
and, transitively, the ids those were seen with (a shared device links two users: both go). The event and
decision logs are the source (a profile record names one id and links nothing). Reading them costs one pass
over both logs' two id columns (Arrow; distinct pairs only are kept in memory): docs/privacy.md has a figure.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from journal.compact import ids_in_line
from journal.event_log import day_files, read_json_day

LINKING_LOGS = ("events", "decisions", "identities")  # identities: links and unlinks (journal.identity)
_SCHEMA = pa.schema([("visitor_id", pa.string()), ("user_id", pa.string())])
_PARSE = pa_json.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="ignore")


def linked_ids(data_dir: Path | str, some_id: str) -> set[str]:
    """`some_id` and every id linked to it in the data dir's logs (raw lines, erased or not)."""
    neighbours: dict[str, set[str]] = {}
    for visitor_id, user_id in id_pairs(data_dir):
        neighbours.setdefault(visitor_id, set()).add(user_id)
        neighbours.setdefault(user_id, set()).add(visitor_id)
    found, queue = {some_id}, deque([some_id])
    while queue:
        for other in neighbours.get(queue.popleft(), ()):
            if other not in found:
                found.add(other)
                queue.append(other)
    return found


def id_pairs(data_dir: Path | str) -> set[tuple[str, str]]:
    """Each distinct (visitor_id, user_id) of the event and decision logs where both are given and differ."""
    pairs: set[tuple[str, str]] = set()
    for log in LINKING_LOGS:
        for path in day_files(Path(data_dir) / log):
            pairs.update(_file_pairs(path))
    return pairs


def _file_pairs(path: Path) -> set[tuple[str, str]]:
    if path.stat().st_size == 0:
        return set()
    table, _ = read_json_day(path, _PARSE)
    if table is None:  # a broken line before the last: every line's ids, parsed or not, as compaction sees them
        rows = []
        with open(path, "rb") as handle:
            for line in handle:
                ids = ids_in_line(line)
                rows.extend((ids[0], other) for other in ids[1:])
    else:
        table = table.filter(pc.is_valid(table["user_id"])).group_by(["visitor_id", "user_id"]).aggregate([])
        rows = zip(table["visitor_id"].to_pylist(), table["user_id"].to_pylist())
    return {(v, u) for v, u in rows if isinstance(v, str) and isinstance(u, str) and v and u and v != u}
