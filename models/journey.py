"""The journey map: stages in order, and which touchpoint type evidences which stage."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from models.errors import ConfigError

EXIT = "exit"
"""Next-stage class for 'no further touchpoint within the horizon'."""


@dataclasses.dataclass(frozen=True)
class JourneyMap:
    stages: tuple[str, ...]
    events: dict[str, str]
    outcomes: tuple[str, ...] = ()
    lapse_after_days: float = 180.0

    def __post_init__(self):
        if not self.stages:
            raise ConfigError("journey map has no stages")
        unknown = sorted({s for s in self.events.values() if s not in self.stages})
        if unknown:
            raise ConfigError(f"journey map: events point at undeclared stages {unknown}")

    def stage_of(self, event_type: str) -> str | None:
        """The stage an event type evidences, or None for outcomes and unmapped types."""
        return self.events.get(event_type)

    def stage_index(self, stage: str | None) -> int:
        return self.stages.index(stage) if stage in self.stages else -1

    @property
    def next_stage_classes(self) -> tuple[str, ...]:
        """Classes of the next-stage model: each stage, then exit."""
        return (*self.stages, EXIT)

    def to_dict(self) -> dict:
        return {
            "stages": list(self.stages),
            "events": dict(self.events),
            "outcomes": list(self.outcomes),
            "lapse_after_days": self.lapse_after_days,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> JourneyMap:
        try:
            return cls(
                stages=tuple(raw["stages"]),
                events=dict(raw.get("events") or {}),
                outcomes=tuple(raw.get("outcomes") or ()),
                lapse_after_days=float(raw.get("lapse_after_days", 180)),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"journey map is malformed: {exc}") from exc

    @classmethod
    def load(cls, path: Path | str) -> JourneyMap:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"journey map not found: {path}") from exc
        return cls.from_dict(raw or {})
