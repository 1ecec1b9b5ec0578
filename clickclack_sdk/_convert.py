"""The one cattrs converter that maps wire objects to and from JSON-ready data.

Rules: an optional field (default ``None``) whose value is ``None`` is omitted on output (the
reference server's omit-empty optional fields); a field declared with ``metadata=NULLABLE`` is always
written, as ``null`` when it is ``None``; every other field is always written. On input unknown keys are ignored and
missing optional fields take their defaults.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=False)

ALWAYS_WRITTEN = "clickclack_always_written"
"""attrs field metadata key: the field is written even when it is ``None`` (as ``null``)."""


NULLABLE: dict[str, Any] = {ALWAYS_WRITTEN: True}
"""Metadata of an "always written, may be null" field: ``attrs.field(default=None,
metadata=NULLABLE)``. Unlike a plain optional field it is written as ``null`` when ``None``."""


def always_written(field: attrs.Attribute[Any]) -> bool:
    """True when ``field`` is written whatever its value (required, or declared ``nullable``)."""
    return field.default is attrs.NOTHING or bool(field.metadata.get(ALWAYS_WRITTEN))


_DECLARED_ORDER: set[type[Any]] = set()


def declared_order(cls: type[T]) -> type[T]:
    """Class decorator: write the fields in their declared order.

    By default the generated unstructure function writes the always-written fields first and
    the omittable ones after them (the order existing entities have on the wire). A class whose
    wire order puts an omit-empty field before a required one (``message.created``:
    ``direct_conversation_id?`` before ``author_id``) opts in to its declared order here.
    """
    _DECLARED_ORDER.add(cls)
    return cls


def _omittable(field: attrs.Attribute[Any]) -> bool:
    return field.default is None and not always_written(field)


def _omit_none_fields(cls: type[Any]) -> Any:
    fields = attrs.fields(cls)
    overrides = {
        field.name: override(omit_if_default=_omittable(field))
        for field in fields
        if field.default is not attrs.NOTHING
    }
    unstructure = make_dict_unstructure_fn(
        cls,
        converter,
        _cattrs_omit_if_default=False,
        **overrides,  # type: ignore[arg-type]
    )
    if cls not in _DECLARED_ORDER:
        return unstructure
    order = [field.name for field in fields]

    def in_declared_order(obj: Any) -> dict[str, Any]:
        data: dict[str, Any] = unstructure(obj)
        return {name: data[name] for name in order if name in data}

    return in_declared_order


def _structure_fn(cls: type[Any]) -> Any:
    return make_dict_structure_fn(cls, converter)


converter.register_unstructure_hook_factory(attrs.has, _omit_none_fields)
converter.register_structure_hook_factory(attrs.has, _structure_fn)


def to_data(obj: Any) -> Any:
    """Unstructure a wire object (or a container of them) into JSON-ready data."""
    return converter.unstructure(obj)


def from_data(data: Any, cls: type[T]) -> T:
    """Structure JSON-decoded data into ``cls``; raises ``cattrs`` errors on bad shapes."""
    return converter.structure(data, cls)


def dumps(obj: Any) -> str:
    """Compact wire JSON of a wire object (omit-empty rules applied)."""
    return json.dumps(to_data(obj), separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes, cls: type[T]) -> T:
    """Parse wire JSON into ``cls`` (unknown fields ignored)."""
    return from_data(json.loads(text), cls)
