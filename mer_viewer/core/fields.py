"""Type checks of plain data (JSON files, checkpoints) against a dataclass's field annotations.

Stored values come back as dicts, lists, str, int, float, bool and None; a value
of the wrong type (``"three"`` for an int, ``"false"`` for a bool) must be
reported by name, never coerced or left to fail later. Messages read like
``where.field must be true or false, got "false"``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal, Union


class FieldTypeError(ValueError):
    """A stored value that does not have its field's type; the message names the field."""


def shown(value: Any, limit: int = 40) -> str:
    """A value as JSON would write it, shortened: ``"false"``, ``3``, ``null``, ``[1, 2]``."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _expected(annotation: Any) -> str:
    """How a value of ``annotation`` is described to a user."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return "a whole number"
    if annotation is float:
        return "a finite number"
    if annotation is str:
        return "text"
    if annotation is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(shown(a) for a in args)
    if origin in (Union, types.UnionType):  # null stands for "not set": not worth saying
        return " or ".join(_expected(a) for a in args if a is not type(None))
    if origin in (tuple, list):
        return "a list"
    if origin in (dict, Mapping) or dataclasses.is_dataclass(annotation):
        return "a mapping"
    return getattr(annotation, "__name__", str(annotation))


def _fits(value: Any, annotation: Any, where: str) -> bool:
    """Whether ``value`` has type ``annotation``; nested problems raise FieldTypeError."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    if annotation is str:
        return isinstance(value, str)
    if annotation is type(None):
        return value is None
    if origin is Literal:
        return any(type(value) is type(a) and value == a for a in args)
    if origin in (Union, types.UnionType):
        return any(_fits(value, a, where) for a in args)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        item = args[0] if args else Any
        for i, v in enumerate(value):
            if not _fits(v, item, f"{where}[{i}]"):
                raise FieldTypeError(f"{where}[{i}] must be {_expected(item)}, got {shown(v)}")
        return True
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            return False
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise FieldTypeError(f"{where} has a key that is not text: {shown(bad[0])}")
        return True
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if not isinstance(value, Mapping):
            return False
        check_fields(annotation, value, where)
        return True
    return True  # a type these files never hold: nothing to check


def check_fields(cls: type, data: object, where: str, *,
                 unknown: Literal["error", "ignore"] = "error") -> Mapping[str, Any]:
    """Raise FieldTypeError naming the first field of ``data`` whose value does not have the
    type ``cls`` declares for it (nested dataclasses are checked field by field). Missing
    fields are not an error (the dataclass's defaults apply); ``unknown`` fields are.
    Returns ``data``, now known to be a mapping."""
    if not isinstance(data, Mapping):
        raise FieldTypeError(f"{where} must be a mapping, got {shown(data)}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    extra = sorted(str(k) for k in data if k not in names)
    if extra and unknown == "error":
        raise FieldTypeError(f"{where} has unknown field(s) {', '.join(extra)}")
    for name in names:
        if name in data and not _fits(data[name], hints[name], f"{where}.{name}"):
            raise FieldTypeError(f"{where}.{name} must be {_expected(hints[name])}, "
                                 f"got {shown(data[name])}")
    return data
