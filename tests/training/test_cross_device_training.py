"""Training follows the person across devices (issue 14): a configuration on the web, anonymous, and a
test drive in the app, logged in, are one journey once the web device is linked to the person."""

import pandas as pd
import pytest

from journal.identity import read_identity_log
from journal.writer import DailyLog
from models.features import FeatureSpec
from training.replay import replay

T0, HOUR, DAY = 1_780_000_000.0, 3600.0, 86_400.0
ROWS = [  # visitor, user, hours after T0, type, channel
    ("web-1", None, 0, "page_view", "web"),
    ("web-1", None, 1, "configure_product", "web"),
    ("app-1", "person-1", 5, "book_test_drive", "app"),
    ("app-1", "person-1", 6, "purchase", "app"),
    ("other", None, 20 * 24, "page_view", "web"),  # the data goes on: nobody's journey is cut off
]


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [f"e{n}" for n in range(len(ROWS))],
            "visitor_id": [r[0] for r in ROWS],
            "user_id": [r[1] for r in ROWS],
            "type": [r[3] for r in ROWS],
            "ts": [T0 + r[2] * HOUR for r in ROWS],
            "channel": [r[4] for r in ROWS],
            "item_id": None,
            "value": None,
        }
    )


@pytest.fixture
def login(tmp_path) -> pd.DataFrame:
    """The web device logs in as person-1 after configuring (what POST /v1/identify records)."""
    record = {"link_id": "l1", "ts": T0 + 2 * HOUR, "at": "", "action": "link", "visitor_id": "web-1"}
    DailyLog(tmp_path / "identities", fsync=False).append([record | {"user_id": "person-1"}])
    return read_identity_log(tmp_path)


def _rows(spec: FeatureSpec, links=None) -> pd.DataFrame:
    rows = replay(_events(), spec, {}, horizon_s=7 * DAY, links=links).next_stage
    frame = pd.DataFrame(rows.X, columns=spec.context_names).assign(label=rows.y, ts=rows.ts)
    frame["label"] = frame["label"].map(dict(enumerate(spec.journey.next_stage_classes)))
    return frame.set_index(((frame["ts"] - T0) / HOUR).astype(int))


def test_a_linked_device_is_the_persons_journey(journey, login):
    spec = FeatureSpec(journey)
    apart, together = _rows(spec), _rows(spec, login)
    # the configuration leads to the test drive in the app, not out of the journey (the app's events
    # carry user_id, which links only the app device: without the web login the web stays apart)
    assert (apart.loc[1, "label"], together.loc[1, "label"]) == ("exit", "intent")
    # the app's first touchpoint knows what the web did: two earlier events, one of them a configuration
    assert apart.loc[5, "stage_count_consideration"] == 0
    assert together.loc[5, "stage_count_consideration"] == 1
    assert together.loc[5, "channel_count_web"] == 2 and together.loc[5, "channel_count_app"] == 1
