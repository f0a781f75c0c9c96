"""How a command says what the journal's readers skipped (torn or broken lines), in one wording."""

from __future__ import annotations


def skipped_lines(bad_event_lines: int, bad_decision_lines: int | None = None) -> dict[str, int]:
    """The counts, for a JSON summary."""
    counts = {"bad_event_lines": int(bad_event_lines)}
    if bad_decision_lines is not None:
        counts["bad_decision_lines"] = int(bad_decision_lines)
    return counts


def describe_skipped(counts: dict[str, int]) -> str:
    """E.g. 'skipped 1 bad event line and 2 bad decision lines (...)'; empty when nothing was skipped."""
    kinds = (("event", counts.get("bad_event_lines", 0)), ("decision", counts.get("bad_decision_lines", 0)))
    parts = [f"{count} bad {kind} line{'' if count == 1 else 's'}" for kind, count in kinds if count]
    if not parts:
        return ""
    return f"skipped {' and '.join(parts)} (a write cut short by a crash, not a record, or text the service refuses)"
