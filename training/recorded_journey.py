"""The journey map a bundle is evaluated under: the one it was trained on, which its manifest records whole."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from models.errors import ConfigError
from models.journey import JourneyMap
from models.registry import Registry

IGNORED = ("client_side",)
"""Map fields that change nothing a model computes or an evaluation counts (who may send which type)."""


def recorded_journey(registry: Registry, version: str) -> JourneyMap | None:
    """The map `version` was trained on (bundles record its content, not its path, so it survives the
    file moving or changing); None for a bundle from before maps were recorded."""
    raw = registry.manifest(version).get("journey")
    return JourneyMap.from_dict(raw) if raw else None


def journey_for(registry: Registry, version: str, given: str | None, fallback: Path) -> JourneyMap:
    """The map to evaluate `version` under: its own by default; `given` (a --journey path) only when it is
    the same map, since scoring a bundle under other stages or types measures nothing it was trained for.
    A bundle that records no map gets `given`, else `fallback`."""
    recorded = recorded_journey(registry, version)
    if recorded is None:
        return JourneyMap.load(given or fallback)
    if given is None:
        return recorded
    explicit = JourneyMap.load(given)
    changed = differences(recorded, explicit)
    if changed:
        raise ConfigError(
            f"--journey {given} is not the journey map {version} was trained on ({describe(changed)}): "
            f"leave --journey out to use the map recorded in the bundle, or train a version on {given}"
        )
    return explicit


def differences(trained: JourneyMap, other: JourneyMap) -> dict[str, tuple]:
    """{field: (the trained map's value, the other's)} for each field that matters and differs."""
    return {
        field.name: (getattr(trained, field.name), getattr(other, field.name))
        for field in dataclasses.fields(JourneyMap)
        if field.name not in IGNORED and getattr(trained, field.name) != getattr(other, field.name)
    }


def describe(changed: dict[str, tuple], other: str = "given") -> str:
    """`stages: trained on [...], given [...]`, one clause per field; long values are summarised."""
    return "; ".join(f"{name}: trained on {_short(a)}, {other} {_short(b)}" for name, (a, b) in changed.items())


def _short(value) -> str:
    shown = list(value) if isinstance(value, tuple) else value
    text = str(shown)
    return text if len(text) <= 120 else f"{text[:117]}..."
