"""The API's checks for events read from files: type and channel against the journey map, and a
timestamp within [earliest, now + margin]; vectorised, one reason per bad row."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from config.settings import Settings
from models.journey import OTHER, JourneyMap


@dataclasses.dataclass(frozen=True)
class EventChecks:
    journey: JourneyMap | None
    """None: types and channels are not checked (the journey report shows what the map lacks)."""
    earliest_ts: float
    future_margin_s: float
    now: float | None = None
    """The instant `future_margin_s` counts from; None: when the check runs."""

    @classmethod
    def from_settings(cls, journey: JourneyMap | None, settings: Settings | None = None) -> EventChecks:
        """The bounds the API applies (settings.earliest_timestamp, settings.future_margin_s)."""
        settings = settings or Settings()
        earliest = pd.Timestamp(settings.earliest_timestamp)
        earliest = earliest.tz_localize("UTC") if earliest.tzinfo is None else earliest
        return cls(journey, earliest.timestamp(), settings.future_margin_s)

    def reasons(self, events: pd.DataFrame) -> np.ndarray:
        """Per row, why the API would refuse it ('' when it would not), checked in the API's order."""
        ts = events["ts"].to_numpy(dtype=float)
        latest = (self.now if self.now is not None else time.time()) + self.future_margin_s
        conditions = [ts < self.earliest_ts, ts > latest]
        choices = ["timestamp: before the earliest accepted", "timestamp: too far in the future"]
        if self.journey is not None and self.journey.unknowns != OTHER:
            kinds, channels = events["type"], events["channel"]
            conditions.append((~kinds.isin(list(self.journey.known_types))).to_numpy())
            choices.append("type: not in the journey map's events or outcomes")
            conditions.append((channels.notna() & ~channels.isin(list(self.journey.channels))).to_numpy())
            choices.append("channel: not one of the journey map's channels")
        return np.select(conditions, choices, default="")
