"""Lift counts the person (issue 14): a decision shown on one device, its outcome on another device of
the same person, joined once the two devices are linked (journal/identity.py)."""

from __future__ import annotations

import datetime as dt
import time
import uuid

from journal.identity import IDENTITIES_LOG, LINK
from journal.writer import DailyLog

URL = "/v1/reports/lift"
PLACEMENT = "home_hero"


def _link(settings, visitor: str, user: str) -> None:
    """The record POST /v1/identify writes: `visitor` logged in as `user`."""
    now = time.time()
    at = dt.datetime.fromtimestamp(now, dt.UTC).isoformat().replace("+00:00", "Z")
    record = {"link_id": uuid.uuid4().hex, "ts": now, "at": at, "action": LINK, "visitor_id": visitor, "user_id": user}
    DailyLog(settings.data_dir / IDENTITIES_LOG, fsync=False).append([record])


def test_an_outcome_on_another_device_counts_for_the_decision(client, settings):
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    answer = client.post("/v1/decisions", json={"visitor_id": "web-device", "placement": PLACEMENT})
    assert answer.status_code == 200, answer.get_json()
    decision = answer.get_json()
    item = decision["items"][0]["item_id"]
    outcomes = [  # in the app, logged in; no decision id: the last decision that showed the item to this person
        {"visitor_id": "app-device", "user_id": "person-1", "type": "click", "item_id": item},
        {"visitor_id": "app-device", "user_id": "person-1", "type": "purchase", "value": 900.0},
    ]
    assert client.post("/v1/events", json={"events": outcomes}).get_json()["accepted"] == 2
    query = {"placement": PLACEMENT, "since": since.isoformat(), "until": (since + dt.timedelta(minutes=5)).isoformat()}

    def counts() -> tuple[dict, dict]:
        report = client.get(URL, query_string=query).get_json()
        (entry,) = report["placements"]
        groups = entry["overall"]
        return report["outcomes_joined"], groups["holdout" if decision["policy"] == "holdout" else "personalized"]

    joined, group = counts()  # the web device is nobody's yet: two devices, two people
    assert (joined["by_last_shown"], joined["orphan"], group["responses"], group["conversions"]) == (0, 1, 0, 0)

    _link(settings, "web-device", "person-1")  # the web device logs in: one person
    joined, group = counts()
    assert (joined["by_last_shown"], joined["orphan"], group["responses"], group["conversions"]) == (1, 0, 1, 1)
    assert group["value"] == 900.0 and group["visitors"] == 1
