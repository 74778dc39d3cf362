"""One way for every service to load its settings: `load_service_config(Config, "text", extra)`.

A service's settings are a frozen dataclass in `<service>/config.py`. Each field is read from,
highest first:

1. `Settings.extra["<section>"]["<field>"]`: a mapping of overrides, for tests and embedders;
2. `Settings.extra["<section>_<field>"]`: the same as a flat key;
3. the environment variable `REALTIME_<SECTION>_<FIELD>` (upper case);
4. the field's default.

A field whose type is itself a dataclass (say `scheduler: SchedulerConfig`) is loaded the same
way with its fields in the same section: `REALTIME_<SECTION>_<INNER_FIELD>`, `<section>_<inner_field>`.

Values are converted to the field's type: `bool` ("1/true/yes/on", "0/false/no/off"), `int`,
`float`, `str`, `tuple[str, ...]` (comma-separated) and `X | None` (an empty string is None). A
value that does not convert, or an override naming no field, is a `ValueError` that names the
variable or key, so a bad setting stops the hub with a clear message instead of a traceback.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_name(section: str, name: str) -> str:
    """The environment variable of a setting: REALTIME_<SECTION>_<FIELD>."""
    return f"REALTIME_{section}_{name}".upper()


def _convert(kind: Any, value: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        inner = [k for k in typing.get_args(kind) if k is not type(None)]
        if value is None or value == "":
            return None
        return _convert(inner[0], value)
    if origin is tuple:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return tuple(str(part) for part in value)
    if kind is bool:
        return _to_bool(value)
    if kind is int:
        return _to_int(value)
    if kind is float:
        return _to_float(value)
    if kind is str:
        return str(value)
    raise TypeError(f"unsupported setting type {kind!r}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false")


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError("expected a whole number")
    try:
        return int(value)
    except ValueError:
        raise ValueError("expected a whole number") from None


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    try:
        return float(value)
    except ValueError:
        raise ValueError("expected a number") from None


def _load(
    cls: type[T],
    section: str,
    nested: Mapping[str, Any],
    extra: Mapping[str, Any],
    environ: Mapping[str, str],
    known: set[str],
) -> T:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in sorted((f for f in fields(cls) if f.init), key=lambda f: f.name):  # type: ignore[arg-type]
        name, kind = field.name, hints[field.name]
        if isinstance(kind, type) and is_dataclass(kind):
            values[name] = _load(kind, section, nested, extra, environ, known)
            continue
        known.add(name)
        flat = f"{section}_{name}"
        var = env_name(section, name)
        if name in nested:
            source, raw = f"{section}.{name}", nested[name]
        elif flat in extra:
            source, raw = flat, extra[flat]
        elif var in environ:
            source, raw = var, environ[var]
        else:
            continue
        try:
            values[name] = _convert(kind, raw)
        except ValueError as exc:
            raise ValueError(f"{source}={raw!r}: {exc}") from None
    try:
        return cls(**values)
    except ValueError as exc:  # the dataclass's own checks (__post_init__)
        raise ValueError(f"{section} settings: {exc}") from None


def load_service_config(
    cls: type[T],
    section: str,
    extra: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> T:
    """An instance of the dataclass `cls` from the hub's `Settings.extra` and the environment
    (see the module docstring for the order and the conversions)."""
    if not (isinstance(cls, type) and is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a dataclass")
    extra = {} if extra is None else extra
    environ = os.environ if environ is None else environ
    nested = extra.get(section) or {}
    if not isinstance(nested, Mapping):
        raise ValueError(f"settings {section!r}: expected a mapping of field -> value")
    known: set[str] = set()
    loaded = _load(cls, section, nested, extra, environ, known)
    unknown = sorted(set(nested) - known)
    if unknown:
        raise ValueError(f"unknown {section} setting {unknown[0]!r}")
    return loaded
