"""The catalog (what can be shown) and placements (where), loaded from YAML."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from models.errors import ConfigError

ITEM_KINDS = ("content", "offer", "action")
OBJECTIVES = ("click", "value")


@dataclasses.dataclass(frozen=True)
class Item:
    id: str
    kind: str = "content"
    title: str = ""
    tags: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    value: float = 1.0
    start: str | None = None
    end: str | None = None
    caps: dict = dataclasses.field(default_factory=dict)
    attributes: dict = dataclasses.field(default_factory=dict)

    def eligible_for(self, stage: str | None, channel: str | None) -> bool:
        """Stage and channel eligibility; an empty list means 'everywhere'."""
        stage_ok = not self.stages or stage is None or stage in self.stages
        channel_ok = not self.channels or channel is None or channel in self.channels
        return stage_ok and channel_ok

    @classmethod
    def from_dict(cls, raw: dict) -> Item:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(raw) - fields
        if unknown:
            raise ConfigError(f"catalog item {raw.get('id')!r}: unknown fields {sorted(unknown)}")
        values = dict(raw)
        for name in ("tags", "stages", "channels"):
            values[name] = tuple(values.get(name) or ())
        if values.get("kind", "content") not in ITEM_KINDS:
            raise ConfigError(f"catalog item {raw.get('id')!r}: kind must be one of {ITEM_KINDS}")
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class Placement:
    id: str
    slots: int = 1
    candidates: tuple[str, ...] | dict = dataclasses.field(default_factory=dict)
    objective: str = "click"
    default_items: tuple[str, ...] = ()

    def candidate_ids(self, catalog: Catalog) -> list[str]:
        """The placement's pool: its explicit ids, or the catalog items matching its filter."""
        if isinstance(self.candidates, tuple):
            return [i for i in self.candidates if i in catalog.items]
        kinds = set(self.candidates.get("kinds") or ())
        tags = set(self.candidates.get("tags") or ())
        return [
            item.id
            for item in catalog.items.values()
            if (not kinds or item.kind in kinds) and (not tags or tags & set(item.tags))
        ]

    @classmethod
    def from_dict(cls, raw: dict) -> Placement:
        values = dict(raw)
        candidates = values.get("candidates") or {}
        values["candidates"] = tuple(candidates) if isinstance(candidates, list) else dict(candidates)
        values["default_items"] = tuple(values.get("default_items") or ())
        if values.get("objective", "click") not in OBJECTIVES:
            raise ConfigError(f"placement {raw.get('id')!r}: objective must be one of {OBJECTIVES}")
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class Catalog:
    items: dict[str, Item]
    placements: dict[str, Placement]

    @classmethod
    def load(cls, config_dir: Path | str) -> Catalog:
        config_dir = Path(config_dir)
        items = _load_list(config_dir / "catalog.yaml", "items", Item.from_dict)
        placements = _load_list(config_dir / "placements.yaml", "placements", Placement.from_dict)
        catalog = cls(items={i.id: i for i in items}, placements={p.id: p for p in placements})
        for placement in placements:
            missing = [i for i in placement.default_items if i not in catalog.items]
            if missing:
                raise ConfigError(f"placement {placement.id!r}: default_items not in catalog: {missing}")
        return catalog


def _load_list(path: Path, key: str, build):
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} not found: set WAYFINDER_CONFIG_DIR to a directory that has it") from exc
    try:
        return [build(entry) for entry in raw.get(key) or ()]
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
