"""A decision and event log (the service's own day files) small enough to work out the lift by hand.

Placement home_hero, window 2026-03-02 00:00Z to 2026-03-03 00:00Z, every decision at consideration:

- personalized (policy model): 70 decisions, p0..p69, each showing hero_a.
  Responses: p0..p53 click with the decision id (54); p54 clicks hero_a without an id (last shown: 55);
  p55 clicks twice (one response: 56). Not responses: p56 clicks 30 h later (late), p57 sends a
  page_view with the decision id (not a reward type), p58 clicks an item it was not shown (orphan).
  Conversions within 7 days: p0..p12 buy for 100 (13); p13's decision names user u13, who buys for 100
  on another device (14). Not a conversion: p14 buys 7 days and an hour later.
- holdout: 80 decisions, h0..h79. Responses: h0..h47 click (48). Conversions: h0..h7 buy for 100 (8);
  h8 bought an hour before its decision (not after it: not counted).

So response 56/70 = 0.8 vs 48/80 = 0.6 (Newcombe's worked example), conversion 14/70 = 0.2 vs
8/80 = 0.1, value per decision 1400/70 = 20 vs 800/80 = 10.

Outside the window (they would change every figure if counted): 40 personalized decisions the day
before (2026-03-01, no response) and 40 holdout decisions on 2026-03-03 12:00 (all respond); and
on 2026-03-06 a decision file with a line that is not JSON (never read: out of every window).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

SINCE = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
T0 = SINCE.timestamp() + 9 * 3600
MINUTE, HOUR, DAY = 60.0, 3600.0, 86_400.0
PLACEMENT = "home_hero"


def decision(decision_id, visitor, ts, policy, stage="consideration", placement=PLACEMENT, items=("hero_a",), **extra):
    """A record as service.decide writes it."""
    return {
        "decision_id": decision_id,
        "visitor_id": visitor,
        "user_id": extra.pop("user_id", None),
        "placement": placement,
        "stage": stage,
        "next_stage": {},
        "items": [
            {"item_id": item, "score": 0.5, "propensity": 1.0, "reasons": ["x"], "position": position}
            for position, item in enumerate(items)
        ],
        "policy": policy,
        "model_version": "v1" if policy == "model" else None,
        "ts": ts,
        "timestamp": dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(),
        "channel": "web",
        "context": {"stage": stage},
        **extra,
    }


def event(kind, visitor, ts, decision_id=None, item_id=None, value=None, user_id=None):
    """A canonical event as service.ingest logs it."""
    return {
        "event_id": f"{kind}-{visitor}-{ts}",
        "visitor_id": visitor,
        "user_id": user_id,
        "type": kind,
        "timestamp": dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(),
        "ts": ts,
        "channel": "web",
        "item_id": item_id,
        "value": value,
        "decision_id": decision_id,
        "properties": {},
    }


def write_log(data_dir: Path, kind: str, records: list[dict]) -> None:
    """Append records to `<data_dir>/<kind>/<YYYY-MM-DD>.jsonl` by their ts, as service.daily_log does."""
    folder = Path(data_dir) / kind
    folder.mkdir(parents=True, exist_ok=True)
    for record in records:
        day = dt.datetime.fromtimestamp(record["ts"], dt.UTC).strftime("%Y-%m-%d")
        with open(folder / f"{day}.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")


def hand_made_log(data_dir: Path) -> Path:
    decisions, events = [], []
    for i in range(70):
        ts = T0 + i * MINUTE
        user = "u13" if i == 13 else None
        decisions.append(decision(f"dp{i}", f"p{i}", ts, "model", user_id=user))
        if i < 54 or i == 55:
            events.append(event("click", f"p{i}", ts + 10 * MINUTE, f"dp{i}", "hero_a"))
        if i == 54:
            events.append(event("click", f"p{i}", ts + 10 * MINUTE, item_id="hero_a"))
        if i == 55:
            events.append(event("click", f"p{i}", ts + 20 * MINUTE, f"dp{i}", "hero_a"))
        if i == 56:
            events.append(event("click", f"p{i}", ts + 30 * HOUR, f"dp{i}", "hero_a"))
        if i == 57:
            events.append(event("page_view", f"p{i}", ts + MINUTE, f"dp{i}", "hero_a"))
        if i == 58:
            events.append(event("click", f"p{i}", ts + MINUTE, item_id="hero_zzz"))
        if i < 13:
            events.append(event("purchase", f"p{i}", ts + 2 * DAY, value=100.0))
        if i == 13:
            events.append(event("purchase", "p13-phone", ts + 3 * DAY, value=100.0, user_id="u13"))
        if i == 14:
            events.append(event("purchase", f"p{i}", ts + 7 * DAY + HOUR, value=100.0))
    for i in range(80):
        ts = T0 + i * MINUTE
        decisions.append(decision(f"dh{i}", f"h{i}", ts, "holdout"))
        if i < 48:
            events.append(event("click", f"h{i}", ts + 5 * MINUTE, f"dh{i}", "hero_a"))
        if i < 8:
            events.append(event("purchase", f"h{i}", ts + DAY, value=100.0))
        if i == 8:
            events.append(event("purchase", f"h{i}", ts - HOUR, value=100.0))
    for i in range(40):
        decisions.append(decision(f"early{i}", f"e{i}", T0 - DAY + i, "model"))
        late = SINCE.timestamp() + DAY + 12 * HOUR + i
        decisions.append(decision(f"later{i}", f"l{i}", late, "holdout"))
        events.append(event("click", f"l{i}", late + MINUTE, f"later{i}", "hero_a"))
    write_log(data_dir, "decisions", decisions)
    write_log(data_dir, "events", events)
    with open(Path(data_dir) / "decisions" / "2026-03-06.jsonl", "a") as handle:
        handle.write('{"decision_id": "cut short\n')
    return data_dir
