"""Field helpers shared by the config models: reload markers, units, bounds and path resolution.

Every config field is declared through :func:`setting`, which forces two decisions at the
point of declaration: whether the field can change on a live reload (SIGHUP), and its unit.
Both live in the field's ``json_schema_extra`` so the loader (error messages), the reload diff
and the tests (every numeric field bounded, every field marked) read the same facts.
"""

from __future__ import annotations

import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo
from pydantic.fields import FieldInfo

RELOADABLE = "reloadable"
UNIT = "unit"


class Section(BaseModel):
    """Base of every config section: immutable, unknown keys are errors, no NaN/inf floats."""

    # strict: no lax coercions a TOML file never needs (``true`` as an int, ``1.0`` as an int,
    # ``"5"`` as a number). Decimal, Path and table fields opt out per field (strict=False) so
    # they accept TOML strings and tables.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


def setting(
    default: Any = ...,
    *,
    reload: bool,
    doc: str,
    unit: str = "",
    strict: bool | None = None,
    **constraints: Any,
) -> Any:
    """Declare a config field: reloadable or not, documented, with a unit and its bounds.

    ``default=...`` makes the key required. Sections are strict; Decimal, Path and table
    fields pass ``strict=False`` so they accept TOML strings and tables.
    """
    extra: dict[str, Any] = {RELOADABLE: reload, UNIT: unit}
    description = f"{doc} [{unit}]" if unit else doc
    if strict is not None:
        constraints["strict"] = strict
    return Field(default, description=description, json_schema_extra=extra, **constraints)


def is_reloadable(info: FieldInfo) -> bool | None:
    """The field's reload marker, or None when the field was not declared with :func:`setting`."""
    extra = info.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get(RELOADABLE), bool):
        return bool(extra[RELOADABLE])
    return None


def unit_of(info: FieldInfo) -> str:
    extra = info.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get(UNIT), str):
        return str(extra[UNIT])
    return ""


def bounds_of(info: FieldInfo) -> tuple[Any, str | None, Any, str | None]:
    """``(low, low_op, high, high_op)`` from the field's constraints (ops: ``<`` or ``≤``)."""
    low: Any = None
    high: Any = None
    low_op: str | None = None
    high_op: str | None = None
    for meta in info.metadata:
        if isinstance(meta, Ge):
            low, low_op = meta.ge, "≤"
        elif isinstance(meta, Gt):
            low, low_op = meta.gt, "<"
        elif isinstance(meta, Le):
            high, high_op = meta.le, "≤"
        elif isinstance(meta, Lt):
            high, high_op = meta.lt, "<"
    return low, low_op, high, high_op


NUMERIC_TYPES: tuple[type, ...] = (int, float, Decimal)


def numeric_type(annotation: Any) -> type | None:
    """The numeric type (``int``/``float``/``Decimal``) of an annotation, ignoring ``| None``."""
    candidates = typing.get_args(annotation) if typing.get_origin(annotation) else (annotation,)
    for cand in candidates:
        if cand is bool:
            continue
        if isinstance(cand, type) and issubclass(cand, NUMERIC_TYPES):
            return cand
    return None


def describe_allowed(info: FieldInfo) -> str | None:
    """A human description of what a field accepts: range with unit, choices, or type."""
    annotation = info.annotation
    unit = unit_of(info)
    suffix = f" {unit}" if unit else ""
    if numeric_type(annotation) is not None:
        low, low_op, high, high_op = bounds_of(info)
        parts = []
        if low is not None:
            parts.append(f"{low} {low_op} ")
        parts.append("value")
        if high is not None:
            parts.append(f" {high_op} {high}")
        return "".join(parts) + suffix
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if annotation is bool:
        return "true or false"
    if annotation is Path or Path in args:
        return "a file system path (a relative one is taken from the config file's directory)"
    return None


def resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Resolve a relative path against the config file's directory (``context['base_dir']``).

    Relative to the config file rather than the working directory, because a systemd service,
    a shell and a test all start from different directories but read the same file.
    """
    expanded = value.expanduser()
    if expanded.is_absolute():
        return expanded
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("base_dir")
    base_dir = Path(base) if base is not None else Path.cwd()
    return base_dir / expanded
