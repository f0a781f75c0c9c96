"""The journey map: stages in order, and which touchpoint type evidences which stage."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from models.errors import ConfigError

EXIT = "exit"
"""Next-stage class for 'no further touchpoint within the horizon'."""
OTHER = "other"
"""What an unknown event type or channel is counted as, in a map that opts in (`unknowns: other`)."""
DEFAULT_CHANNELS = ("web", "app", "email", "store", "call_center", "social", "ads", "push", "sms")
"""The channels a map knows when it declares none (DESIGN.md section 1)."""
UNKNOWN_POLICIES = ("refuse", "other")


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
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    """The channels touchpoints may come from; anything else is refused (or counted as `other`)."""
    unknowns: str = "refuse"
    """`refuse`: an event type or channel the map does not know is a 422; `other`: it is kept but counted as
    `other`, so free-form values cannot grow a visitor's counters without bound."""
    client_side: tuple[str, ...] = ()
    """Event types a browser or app may send with a public key (page views, clicks); every other type needs a
    server key, so a page cannot claim a purchase (docs/security.md)."""

    def __post_init__(self):
        if self.unknowns not in UNKNOWN_POLICIES:
            raise ConfigError(f"journey map: unknowns must be one of {list(UNKNOWN_POLICIES)}, not {self.unknowns!r}")
        if not self.channels:
            raise ConfigError("journey map: channels must not be empty")
        if not self.stages:
            raise ConfigError("journey map has no stages")
        strangers = sorted(set(self.client_side) - self.known_types)
        if strangers:
            raise ConfigError(f"journey map: client_side names event types the map does not know: {strangers}")
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

    @property
    def known_types(self) -> frozenset[str]:
        """Every event type the map names: the stage-bearing ones and the outcomes."""
        return frozenset(self.events) | frozenset(self.outcomes)

    def unknown_fields(self, event_type: str | None, channel: str | None) -> dict[str, list[str]]:
        """Per field, why an event's type or channel is refused by this map ({} when both are fine)."""
        if self.unknowns == OTHER:
            return {}
        errors = {}
        if event_type is not None and event_type not in self.known_types:
            errors["type"] = [f"unknown event type {event_type!r}: not in the journey map's events or outcomes"]
        if channel is not None and channel not in self.channels:
            errors["channel"] = [f"unknown channel {channel!r}: known channels are {', '.join(self.channels)}"]
        return errors

    def counted_type(self, event_type: str) -> str:
        """The key an event type is counted under: itself if known, else `other`."""
        return event_type if event_type in self.known_types else OTHER

    def counted_channel(self, channel: str) -> str:
        """The key a channel is counted under: itself if known, else `other`."""
        return channel if channel in self.channels else OTHER

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
        if self.channels != DEFAULT_CHANNELS:
            raw["channels"] = list(self.channels)
        if self.unknowns != "refuse":
            raw["unknowns"] = self.unknowns
        if self.client_side:
            raw["client_side"] = list(self.client_side)
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
                channels=tuple(str(c) for c in raw.get("channels") or DEFAULT_CHANNELS),
                unknowns=str(raw.get("unknowns", "refuse")),
                client_side=tuple(str(t) for t in raw.get("client_side") or ()),
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
