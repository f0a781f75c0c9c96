"""The catalog (what can be shown) and placements (where), validated by one schema for YAML and API."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from models.errors import ConfigError, ValidationFailed
from models.journey import JourneyMap
from models.pools import Pool
from models.strict import StrictFloat, StrictInteger
from models.text import name as config_name
from models.text import short_text

ITEM_KINDS = ("content", "offer", "action")
OBJECTIVES = ("click", "value", "progress")
CAP_WINDOWS = {"per_visitor_per_day": 1, "per_visitor_per_week": 7}
FILTER_OPS = ("equals", "in", "contains")
CHOOSE = "choose"
"""A placement's `channel` when its decisions choose the channel among its `channels` (models.channel_choice)."""

_id = config_name()
_tag = short_text(64)
DATES = (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
"""An item's start and end lie in this range: a typo'd year is refused, not stored."""
_DATES_TEXT = "between 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z"


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CapsSchema(_Strict):
    per_visitor_per_day = StrictInteger(validate=validate.Range(min=1, max=10_000))
    per_visitor_per_week = StrictInteger(validate=validate.Range(min=1, max=10_000))


LINK_PATTERN = r"^((https?://|/)[^\s\x00-\x1f\x7f<>\"']{0,2040})?$"
LINK_RULE = (
    "empty, or an http(s) URL or a path starting with / (no spaces, quotes or angle brackets), 2,048 characters at most"
)
DISPLAY_FIELDS = ("title", "url", "image", "attributes")
"""What a decision request may ask to receive with each item (`include`), to render it without a second call."""


class ItemSchema(_Strict):
    id = fields.String(required=True, validate=_id)
    kind = fields.String(load_default="content", validate=validate.OneOf(ITEM_KINDS))
    title = fields.String(load_default="", validate=short_text(200, 0))
    tags = fields.List(fields.String(validate=_tag), load_default=list, validate=validate.Length(max=50))
    stages = fields.List(
        fields.String(validate=_id),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "journey stages; empty = every stage"},
    )
    channels = fields.List(
        fields.String(validate=short_text(32)),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "channels the journey map names; empty = every channel"},
    )
    value = StrictFloat(load_default=1.0, validate=validate.Range(min=0, max=1e9))
    start = fields.AwareDateTime(load_default=None, allow_none=True, metadata={"description": _DATES_TEXT})
    end = fields.AwareDateTime(load_default=None, allow_none=True, metadata={"description": _DATES_TEXT})
    caps = fields.Nested(CapsSchema, load_default=dict)
    event = fields.String(
        load_default=None,
        allow_none=True,
        validate=_id,
        metadata={"description": "the touchpoint type a visitor's response to this item is (e.g. book_test_drive)"},
    )
    attributes = fields.Dict(keys=fields.String(validate=_tag), load_default=dict)
    url = fields.String(
        load_default="",
        validate=validate.Regexp(LINK_PATTERN, error=LINK_RULE),
        metadata={"description": "where the item links to: " + LINK_RULE},
    )
    image = fields.String(
        load_default="",
        validate=validate.Regexp(LINK_PATTERN, error=LINK_RULE),
        metadata={"description": "the item's image: " + LINK_RULE},
    )

    @validates("start", "end")
    def _sane_date(self, value, **_):
        if value is not None and not DATES[0] <= value < DATES[1]:
            raise ValidationError(f"must be {_DATES_TEXT}")

    @post_load
    def _dates_in_order(self, data, **_):
        if data["start"] and data["end"] and data["end"] <= data["start"]:
            raise ValidationError("must be after start", "end")
        return data


class FilterSchema(_Strict):
    action = fields.String(required=True, validate=validate.OneOf(("include", "exclude")))
    field = fields.String(required=True, metadata={"description": "item.kind, item.tags, item.attributes.<name>"})
    op = fields.String(load_default="equals", validate=validate.OneOf(FILTER_OPS))
    value = fields.Raw(load_default=None, allow_none=True)
    value_from = fields.String(
        load_default=None, allow_none=True, metadata={"description": "profile.<name>: compare with the profile"}
    )

    @validates("field")
    def _item_field(self, value, **_):
        if not (value in ("item.kind", "item.tags", "item.id") or value.startswith("item.attributes.")):
            raise ValidationError("must be item.id, item.kind, item.tags or item.attributes.<name>")

    @validates("value_from")
    def _profile_field(self, value, **_):
        if value is not None and not value.startswith("profile."):
            raise ValidationError("must be profile.<name>")


class ExplorationSchema(_Strict):
    epsilon = StrictFloat(validate=validate.Range(0, 1))
    temperature = StrictFloat(validate=validate.Range(min=1e-6), metadata={"description": "softmax over scores"})
    uncertainty_bonus = StrictFloat(
        validate=validate.Range(0, 1),
        metadata={
            "description": "the most P(response) is raised for an item with no history that is like what the"
            " visitor browses (shrinks as 1/sqrt(1 + impressions and engagements)); absent: 0.5, 0: off"
        },
    )


def minutes_of(text: str) -> int:
    """ "HH:MM" (24-hour clock) as minutes after midnight; ValueError otherwise."""
    hours, _, minutes = text.partition(":")
    if len(hours) != 2 or len(minutes) != 2 or not (hours.isdigit() and minutes.isdigit()):
        raise ValueError(f"{text!r} is not HH:MM")
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"{text!r} is not a time of day")
    return int(hours) * 60 + int(minutes)


class QuietHoursSchema(_Strict):
    start = fields.String(required=True, metadata={"description": "HH:MM, the person's local time"})
    end = fields.String(required=True, metadata={"description": "HH:MM; before start: the window runs over midnight"})
    channels = fields.List(
        fields.String(validate=short_text(32)),
        validate=validate.Length(min=1, max=20),
        metadata={"description": "the interruptive channels silenced; absent: push, sms, call_center"},
    )

    @validates("start", "end")
    def _time_of_day(self, value, **_):
        try:
            minutes_of(value)
        except ValueError as error:
            raise ValidationError("must be HH:MM, 00:00 to 23:59") from error


class PlacementSchema(_Strict):
    id = fields.String(required=True, validate=_id)
    slots = StrictInteger(load_default=1, validate=validate.Range(1, 50))
    candidates = fields.Raw(
        load_default=dict, metadata={"description": "item ids, or {kinds: [...], tags: [...]}; absent = all"}
    )
    objective = fields.String(load_default="click", validate=validate.OneOf(OBJECTIVES))
    exploration = fields.Nested(ExplorationSchema, load_default=dict)
    holdout_share = StrictFloat(load_default=0.0, validate=validate.Range(0, 0.5))
    default_items = fields.List(fields.String(validate=_id), load_default=list, validate=validate.Length(max=50))
    max_per_tag = StrictInteger(load_default=None, allow_none=True, validate=validate.Range(min=1))
    caps = fields.Nested(CapsSchema, load_default=dict)
    filters = fields.List(fields.Nested(FilterSchema), load_default=list, validate=validate.Length(max=50))
    reward = fields.List(
        fields.String(validate=_id),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "event types that count as a response here; empty = the journey's outcomes"},
    )
    channel = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Equal(CHOOSE),
        metadata={"description": "choose: the decision chooses the channel among `channels` (docs/channels.md)"},
    )
    channels = fields.List(
        fields.String(validate=short_text(32)),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "with channel choose: the outbound channels it may use, journey map channels"},
    )
    quiet_hours = fields.Nested(
        QuietHoursSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "with channel choose: when, in the person's time zone, interruptive channels rest"},
    )

    @validates_schema
    def _channel_choice(self, data, **_):
        if data.get("channel") == CHOOSE and not data.get("channels"):
            raise ValidationError("channel choose needs the channels it may choose from", "channels")
        if data.get("channel") != CHOOSE and (data.get("channels") or data.get("quiet_hours")):
            raise ValidationError("channels and quiet_hours apply to a placement with channel choose", "channel")
        if len(set(data.get("channels") or ())) != len(data.get("channels") or ()):
            raise ValidationError("each channel once", "channels")

    @validates("candidates")
    def _candidates_shape(self, value, **_):
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise ValidationError("a list of candidates must hold item ids")
            if len(value) > 1000:
                raise ValidationError("at most 1000 candidate ids")
        elif isinstance(value, dict):
            if set(value) - {"kinds", "tags"}:
                raise ValidationError("a candidate filter has only 'kinds' and 'tags'")
            kinds, tags = value.get("kinds") or [], value.get("tags") or []
            if not isinstance(kinds, list) or not set(kinds) <= set(ITEM_KINDS):
                raise ValidationError(f"kinds must be a list of {', '.join(ITEM_KINDS)}")
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ValidationError("tags must be a list of tags")
        else:
            raise ValidationError("must be a list of item ids or {kinds, tags}")

    @validates("exploration")
    def _one_exploration(self, value, **_):
        if "epsilon" in value and "temperature" in value:
            raise ValidationError("choose epsilon or temperature, not both")


ITEM_SCHEMA = ItemSchema()
PLACEMENT_SCHEMA = PlacementSchema()


class ItemBodySchema(ItemSchema):
    """An item as PUT /v1/catalog/items/<id> takes it: the path names the id, so the body may leave it out."""

    id = fields.String(validate=_id, metadata={"description": "the path's id, if given"})


class PlacementBodySchema(PlacementSchema):
    """A placement as PUT /v1/placements/<id> takes it: the path names the id, so the body may leave it out."""

    id = fields.String(validate=_id, metadata={"description": "the path's id, if given"})


def checked_item(raw: object, journey: JourneyMap) -> Item:
    """An item from an API body, its stages, channels and response event checked against the journey map."""
    item = _loaded(Item.from_dict, raw)
    errors = {}
    stray = [s for s in item.stages if s not in journey.stages]
    if stray:
        errors["stages"] = [f"not a journey stage: {stray}; the stages are {', '.join(journey.stages)}"]
    _refused(errors, "channels", [journey.unknown_fields(None, c).get("channel") for c in item.channels])
    _refused(errors, "event", [journey.unknown_fields(item.event, None).get("type")])
    if errors:
        raise ValidationFailed("the item names what the journey map does not: see errors per field", errors)
    return item


def checked_placement(raw: object, journey: JourneyMap) -> Placement:
    """A placement from an API body, its reward event types checked against the journey map."""
    placement = _loaded(Placement.from_dict, raw)
    errors = {}
    _refused(errors, "reward", [journey.unknown_fields(t, None).get("type") for t in placement.reward])
    _refused(errors, "channels", [placement_channel_problems(placement, journey)])
    if errors:
        raise ValidationFailed("the placement names what the journey map does not: see errors per field", errors)
    return placement


def placement_channel_problems(placement: Placement, journey: JourneyMap) -> list[str]:
    """Why the placement's channels or quiet-hours channels are not the journey map's ([] when they are)."""
    quiet = (placement.quiet_hours or {}).get("channels") or ()
    return [
        f"unknown channel {c!r}: the journey map's channels are {', '.join(journey.channels)}"
        for c in dict.fromkeys([*placement.channels, *quiet])
        if c not in journey.channels
    ]


def _loaded(build, raw: object):
    if not isinstance(raw, dict):
        raise ValidationFailed("the body must be a JSON object", {"_schema": ["not an object"]})
    try:
        return build(raw)
    except ValidationError as error:
        raise ValidationFailed("request body failed validation: see errors per field", error.messages) from error


def _refused(errors: dict, field: str, reasons: list) -> None:
    reasons = [r for found in reasons if found for r in found]
    if reasons:
        errors[field] = reasons


@dataclasses.dataclass(frozen=True)
class Item:
    id: str
    kind: str = "content"
    title: str = ""
    tags: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    value: float = 1.0
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    caps: dict = dataclasses.field(default_factory=dict)
    event: str | None = None
    attributes: dict = dataclasses.field(default_factory=dict)
    url: str = ""
    image: str = ""

    def eligible_for(self, stage: str | None, channel: str | None) -> bool:
        """Stage and channel eligibility; an empty list means 'everywhere'."""
        stage_ok = not self.stages or stage is None or stage in self.stages
        channel_ok = not self.channels or channel is None or channel in self.channels
        return stage_ok and channel_ok

    def live_at(self, moment: dt.datetime) -> bool:
        return (self.start is None or self.start <= moment) and (self.end is None or moment < self.end)

    @classmethod
    def from_dict(cls, raw: dict) -> Item:
        """Validate with ItemSchema; raises marshmallow.ValidationError."""
        data = ITEM_SCHEMA.load(raw)
        for name in ("tags", "stages", "channels"):
            data[name] = tuple(data[name])
        return cls(**data)

    def to_dict(self) -> dict:
        return ITEM_SCHEMA.dump(dataclasses.asdict(self))


@dataclasses.dataclass(frozen=True)
class Placement:
    id: str
    slots: int = 1
    candidates: tuple[str, ...] | dict = dataclasses.field(default_factory=dict)
    objective: str = "click"
    exploration: dict = dataclasses.field(default_factory=dict)
    holdout_share: float = 0.0
    default_items: tuple[str, ...] = ()
    max_per_tag: int | None = None
    caps: dict = dataclasses.field(default_factory=dict)
    filters: tuple[dict, ...] = ()
    reward: tuple[str, ...] = ()
    channel: str | None = None
    channels: tuple[str, ...] = ()
    quiet_hours: dict | None = None

    @property
    def chooses_channel(self) -> bool:
        return self.channel == CHOOSE

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
        """Validate with PlacementSchema; raises marshmallow.ValidationError."""
        data = PLACEMENT_SCHEMA.load(raw)
        candidates = data["candidates"]
        data["candidates"] = tuple(candidates) if isinstance(candidates, list) else dict(candidates)
        data["default_items"] = tuple(data["default_items"])
        data["filters"] = tuple(data["filters"])
        data["reward"] = tuple(data["reward"])
        data["channels"] = tuple(data["channels"])
        return cls(**data)

    def to_dict(self) -> dict:
        raw = dataclasses.asdict(self)
        raw["candidates"] = list(self.candidates) if isinstance(self.candidates, tuple) else self.candidates
        dumped = PLACEMENT_SCHEMA.dump(raw)
        for name in ("channel", "channels", "quiet_hours"):  # only when set: stored catalogs keep their shape
            if not dumped.get(name):
                dumped.pop(name, None)
        return dumped


@dataclasses.dataclass(frozen=True)
class Catalog:
    items: dict[str, Item]
    placements: dict[str, Placement]

    def pool(self, placement: Placement) -> Pool:
        """The placement's pool (`candidate_ids`) with its tag index, computed once per catalog version: a
        Catalog is never changed, only replaced, so the cache lives on this object."""
        pools = self.__dict__.setdefault("_pools", {})  # frozen: a cache beside the fields, not one of them
        cached = pools.get(placement.id)
        if cached is None or cached[0] is not placement:
            cached = (placement, Pool(placement.candidate_ids(self), self.items))
            pools[placement.id] = cached
        return cached[1]

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
    entries = raw.get(key) or ()
    out = []
    for index, entry in enumerate(entries):
        try:
            out.append(build(entry))
        except ValidationError as exc:
            name = entry.get("id") if isinstance(entry, dict) else index
            raise ConfigError(f"{path}: {key}[{index}] ({name}): {exc.messages}") from exc
    return out
