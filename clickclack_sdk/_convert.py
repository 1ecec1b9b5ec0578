"""The one cattrs converter that maps wire objects to and from JSON-ready data.

Rules: a field whose value is ``None`` is omitted on output (the reference server's omit-empty
optional fields); every other field is always written. On input unknown keys are ignored and
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


def _omit_none_fields(cls: type[Any]) -> Any:
    overrides = {
        field.name: override(omit_if_default=field.default is None)
        for field in attrs.fields(cls)
        if field.default is not attrs.NOTHING
    }
    return make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=False, **overrides)  # type: ignore[arg-type]


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
