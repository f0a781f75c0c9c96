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
    conversion_stage: str | None = None
    """The stage that counts as converting; None means "conversion" if declared, else the last stage."""
    profile_features: dict[str, tuple[str, ...] | None] = dataclasses.field(default_factory=dict)
    """Profile attributes the models read: name -> None for a number, or the category values in order."""

    def __post_init__(self):
        if not self.stages:
            raise ConfigError("journey map has no stages")
        unknown = sorted({s for s in self.events.values() if s not in self.stages})
        if unknown:
            raise ConfigError(f"journey map: events point at undeclared stages {unknown}")
        for name, values in self.profile_features.items():
            if values is not None and (not values or len(set(values)) != len(values)):
                raise ConfigError(f"journey map: profile feature {name!r} needs distinct category values")
        if self.conversion_stage is not None and self.conversion_stage not in self.stages:
            raise ConfigError(
                f"journey map: conversion_stage {self.conversion_stage!r} is not one of the stages {list(self.stages)}"
            )

    def stage_of(self, event_type: str) -> str | None:
        """The stage an event type evidences, or None for outcomes and unmapped types."""
        return self.events.get(event_type)

    def profile_attributes(self, profile: dict | None) -> dict:
        """The declared profile features' raw values: each looked up at the top of the profile, then
        under its `attributes`; None where absent."""
        profile = profile or {}
        extra = profile.get("attributes") if isinstance(profile.get("attributes"), dict) else {}
        return {name: profile.get(name, extra.get(name)) for name in self.profile_features}

    def stage_index(self, stage: str | None) -> int:
        return self.stages.index(stage) if stage in self.stages else -1

    @property
    def conversion(self) -> str:
        """The stage whose reaching makes a journey a converting one (journey analytics)."""
        if self.conversion_stage is not None:
            return self.conversion_stage
        return "conversion" if "conversion" in self.stages else self.stages[-1]

    @property
    def next_stage_classes(self) -> tuple[str, ...]:
        """Classes of the next-stage model: each stage, then exit."""
        return (*self.stages, EXIT)

    def to_dict(self) -> dict:
        raw = {
            "stages": list(self.stages),
            "events": dict(self.events),
            "outcomes": list(self.outcomes),
            "lapse_after_days": self.lapse_after_days,
        }
        if self.conversion_stage is not None:
            # only when set, so the maps recorded in existing bundles keep their exact shape
            raw["conversion_stage"] = self.conversion_stage
        if self.profile_features:
            raw["profile_features"] = {
                name: "number" if values is None else list(values) for name, values in self.profile_features.items()
            }
        return raw

    @classmethod
    def from_dict(cls, raw: dict) -> JourneyMap:
        try:
            return cls(
                stages=tuple(raw["stages"]),
                events=dict(raw.get("events") or {}),
                outcomes=tuple(raw.get("outcomes") or ()),
                lapse_after_days=float(raw.get("lapse_after_days", 180)),
                conversion_stage=raw.get("conversion_stage"),
                profile_features=_profile_features(raw.get("profile_features") or {}),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"journey map is malformed: {exc}") from exc

    @classmethod
    def load(cls, path: Path | str) -> JourneyMap:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"journey map not found: {path}") from exc
        return cls.from_dict(raw or {})


def _profile_features(raw: dict) -> dict[str, tuple[str, ...] | None]:
    """`{name: number}` or `{name: [category, ...]}` from the map's `profile_features`."""
    features = {}
    for name, kind in raw.items():
        if kind == "number":
            features[str(name)] = None
        elif isinstance(kind, list):
            features[str(name)] = tuple(str(value) for value in kind)
        else:
            raise ConfigError(f"journey map: profile feature {name!r} must be 'number' or a list of categories")
    return features
