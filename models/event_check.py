"""A fast load of well-formed events, compiled from EventSchema's own fields and validators.

marshmallow stays the one source of the contract, of the OpenAPI document and of every error message:
`fast_load` returns exactly what `EventSchema().load` returns for an event it finds nothing wrong with,
and None for anything else (an unknown key, a wrong type, a failed validator, an unusual type such
as a str subclass), so that the caller asks the schema, which then accepts it or says why not. The
lengths and patterns below are read off the schema's validators, not copied; tests/models/
test_event_fast_load.py checks fast and marshmallow loads agree on valid and nasty events alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import marshmallow
from marshmallow import Schema, ValidationError, fields, validate

from models.strict import StrictFloat

MISSING = object()


def _string_check(field: fields.Field) -> Callable[[str], bool]:
    """Whether a str passes the field's validators (each a Length or a Regexp: anything else is not compiled)."""
    bounds, patterns = [], []
    for validator in field.validators:
        if isinstance(validator, validate.Length) and validator.equal is None:
            bounds.append((validator.min or 0, math.inf if validator.max is None else validator.max))
        elif isinstance(validator, validate.Regexp):
            patterns.append(validator.regex.match)  # the validator's own compiled pattern, `match` as it calls
        else:
            raise TypeError(f"no fast check for {validator!r}: teach models/event_check.py or drop the fast path")

    low = max((low for low, _ in bounds), default=0)  # every Length at once
    high = min((high for _, high in bounds), default=math.inf)
    patterns = tuple(patterns)

    def check(value: str) -> bool:
        if not low <= len(value) <= high:
            return False
        for match in patterns:
            if match(value) is None:
                return False
        return True

    return check


def _string_loader(field: fields.String) -> Callable[[object], object]:
    check = _string_check(field)
    allow_none = field.allow_none

    def load(value: object) -> object:
        if type(value) is str and check(value):
            return value
        if value is None and allow_none:
            return None
        return MISSING

    return load


def _float_loader(field: StrictFloat) -> Callable[[object], object]:
    if field.validators or field.allow_nan or field.as_string:
        raise TypeError(f"no fast check for {field!r}")
    allow_none = field.allow_none

    def load(value: object) -> object:
        kind = type(value)
        if kind is float or kind is int:
            try:
                number = float(value)
            except OverflowError:
                return MISSING
            return number if math.isfinite(number) else MISSING
        if value is None and allow_none:
            return None
        return MISSING

    return load


def _delegated_loader(field: fields.Field) -> Callable[[object], object]:
    """The field's own deserialize (a timestamp: rarer and subtler than the rest, so marshmallow parses it)."""

    def load(value: object) -> object:
        try:
            return field.deserialize(value)
        except ValidationError:
            return MISSING

    return load


def _dict_loader(field: fields.Dict) -> Callable[[object], object]:
    if field.value_field is not None or field.validators or field.allow_none:
        raise TypeError(f"no fast check for {field!r}")
    key_check = _string_check(field.key_field)

    def load(value: object) -> object:
        if type(value) is not dict:
            return MISSING
        for key in value:
            if type(key) is not str or not key_check(key):
                return MISSING
        return dict(value)

    return load


def _validates_checks(schema: Schema) -> dict[str, list[Callable[[object], bool]]]:
    """The schema's @validates methods, by field, as predicates (True: nothing to say)."""
    checks: dict[str, list[Callable[[object], bool]]] = {}
    for attr_name, _, options in schema._hooks.get("validates", ()):
        method = getattr(schema, attr_name)
        for field_name in options["field_names"]:

            def check(value, method=method, field_name=field_name) -> bool:
                try:
                    method(value, data_key=field_name)
                except ValidationError:
                    return False
                return True

            checks.setdefault(field_name, []).append(check)
    return checks


def compile_loader(schema: Schema) -> Callable[[dict], dict | None]:
    """A load of `schema` for well-formed input (None: ask the schema). Refuses (TypeError) a schema with
    anything it cannot reproduce: load hooks, schema-level validators, a field type it does not know."""
    hooks = {kind for kind, found in schema._hooks.items() if found}
    if schema.unknown != "raise" or hooks - {"validates"}:
        raise TypeError(f"no fast load for a schema with {sorted(hooks)} or without unknown=RAISE")
    checks = _validates_checks(schema)
    loaders = []
    for name, field in schema.load_fields.items():
        if field.data_key not in (None, name) or field.attribute not in (None, name):
            raise TypeError(f"no fast load for {name}: it has a data_key or attribute")
        if isinstance(field, StrictFloat):
            loader = _float_loader(field)
        elif type(field) is fields.String:
            loader = _string_loader(field)
        elif type(field) is fields.Dict:
            loader = _dict_loader(field)
        elif type(field) is fields.AwareDateTime:
            loader = _delegated_loader(field)
        else:
            raise TypeError(f"no fast load for {name} ({type(field).__name__})")
        default = MISSING if field.required else field.load_default
        loaders.append((name, loader, default, tuple(checks.pop(name, ()))))
    if checks:
        raise TypeError(f"@validates for fields the schema does not load: {sorted(checks)}")
    names = frozenset(name for name, *_ in loaders)

    def load(raw: dict) -> dict | None:
        if not names.issuperset(raw):
            return None
        loaded = {}
        for name, loader, default, field_checks in loaders:
            value = raw.get(name, MISSING)
            if value is MISSING:
                if default is MISSING:
                    return None
                if default is marshmallow.missing:
                    continue
                value = default() if callable(default) else default
            else:
                value = loader(value)
                if value is MISSING:
                    return None
            for check in field_checks:
                if not check(value):
                    return None
            loaded[name] = value
        return loaded

    return load
