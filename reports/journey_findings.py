"""Where the real journey departs from the designed map, in plain words, from the figures of reports.analytics."""

from __future__ import annotations

from models.journey import EXIT

ORDER = {"late_entry": 0, "skip": 0, "back": 0, "rare_next": 0, "unknown_types": 1, "drop_off": 2, "stall": 3}
"""Gaps between the map and the data first (biggest first), then unknown touchpoints, drop-off and stalls."""


def findings(figures: dict) -> list[dict]:
    """Findings as {kind, text, count}: the largest gaps first."""
    out = [*_unmapped_moves(figures), *_rare_next_steps(figures), *_unknown_types(figures)]
    out += _drop_off_and_stall(figures)
    out.sort(key=lambda f: (ORDER[f["kind"]], -f["count"]))
    if not out and figures["summary"]["visitors_with_stage"]:
        out.append({"kind": "none", "text": "Customers follow the designed map: no large gap found.", "count": 0})
    return out


def _unmapped_moves(figures: dict) -> list[dict]:
    stages, out = figures["stages"], []
    for move in figures["gaps"]["unmapped_frequent"]:
        share, source, target = percent(move["share_of_departures"]), move["from"], move["to"]
        if move["kind"] == "late_entry":
            journeys = plural(move["count"], "journey")
            text = f"{share} of journeys ({journeys}) start at {target}, not at {stages[0]} where the map begins."
        elif move["kind"] == "skip":
            skipped = ", ".join(stages[stages.index(source) + 1 : stages.index(target)])
            text = (
                f"{share} of moves out of {source} jump straight to {target} ({plural(move['count'], 'move')}), "
                f"skipping {skipped}: the map has no such step."
            )
        else:
            text = (
                f"{share} of moves out of {source} go back to {target} ({plural(move['count'], 'move')}): "
                "the map has no way back."
            )
        out.append({"kind": move["kind"], "text": text, "count": move["count"]})
    return out


def _rare_next_steps(figures: dict) -> list[dict]:
    counts, out = figures["transitions"]["counts"], []
    for move in figures["gaps"]["rare_expected"]:
        source = move["from"]
        departures = sum(n for target, n in counts[source].items() if target != source)
        leave = percent(counts[source][EXIT] / departures) if departures else "n/a"
        text = (
            f"Only {percent(move['share_of_departures'])} of moves out of {source} go on to {move['to']}, "
            f"the map's next step; {leave} of them leave the journey."
        )
        out.append({"kind": "rare_next", "text": text, "count": departures})
    return out


def _unknown_types(figures: dict) -> list[dict]:
    unknown = figures["unknown_event_types"]
    if not unknown:
        return []
    events = sum(row["events"] for row in unknown)
    named = ", ".join(f"{row['type']} ({row['events']:,})" for row in unknown[:5])
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    text = (
        f"{plural(len(unknown), 'event type')} the map does not know ({plural(events, 'event')} in no stage): "
        f"{named}{more}."
    )
    return [{"kind": "unknown_types", "text": text, "count": events}]


def _drop_off_and_stall(figures: dict) -> list[dict]:
    """Where most journeys end before converting, and the stage before converting where they stay longest."""
    before = figures["funnel"][: figures["stages"].index(figures["conversion_stage"])]
    journeys, out = figures["summary"]["visitors_with_stage"], []
    ended = max(before, key=lambda row: row["ended_here"], default=None)
    if ended and ended["ended_here"]:
        text = (
            f"The biggest drop-off is in {ended['stage']}: {ended['ended_here']:,} of {plural(journeys, 'journey')} "
            f"({percent(ended['ended_here'] / journeys)}) end there."
        )
        out.append({"kind": "drop_off", "text": text, "count": ended["ended_here"]})
    stays = [row for row in before if row["time_in_stage"]["stays"]]
    if stays:
        row = max(stays, key=lambda r: r["time_in_stage"]["median_s"])
        times = row["time_in_stage"]
        text = (
            f"Customers stay longest in {row['stage']}: median {duration_text(times['median_s'])}, "
            f"90th percentile {duration_text(times['p90_s'])} before their next stage."
        )
        out.append({"kind": "stall", "text": text, "count": times["stays"]})
    return out


def duration_text(seconds: float | None) -> str:
    """A duration for people: 45 min, 3.2 h, 4.1 d."""
    if seconds is None:
        return "n/a"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def percent(share: float | None) -> str:
    """A share for people: 38%, 7.1%, 0%."""
    if share is None:
        return "n/a"
    return f"{share:.0%}" if share >= 0.1 or share == 0 else f"{share:.1%}"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
