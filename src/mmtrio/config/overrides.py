"""``section.key=value`` overrides (``mmtrio run --set``, ``backtest --set``/``--sweep``).

Decisions:

- The value is read as a TOML value (``0.1``, ``true``, ``"x"``, ``[1, 2]``); anything that is
  not valid TOML is taken as a bare string, so ``quoting.model=glft`` works unquoted.
- At load (:func:`mmtrio.config.load_config` with ``overrides``) they are applied to the file's
  TOML data *before* the defaults that depend on other keys are filled in: ``--set
  venue.name=okx`` names the bot ``okx-paper`` and gives it its own state directory, as the same
  line in the file would.
- A relative path given on the command line is relative to the working directory (where the
  operator typed it), not to the config file's directory: it is made absolute here.
- A key whose field holds text keeps the text as typed when TOML would read a number or a
  boolean: ``--set venue.account=0x1125…`` (a Hyperliquid address; TOML's hex integer) and
  ``--set venue.account=12345`` (an Extended vault) are the strings they are in the file
  (QA, Hyperliquid: "venue.account = 9788…: Input should be a valid string").
"""

from __future__ import annotations

import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mmtrio.errors import ConfigError


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"section.key=value"`` into the key path and a TOML-typed value."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key or not raw:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    path = key.split(".")
    if any(not part for part in path) or len(path) < 2:
        raise ConfigError(
            f"override key {key!r} must name a section and a key, e.g. quoting.gamma=0.1"
        )
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def set_keys(
    data: Mapping[str, Any],
    overrides: Sequence[str],
    model: type[BaseModel] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """A copy of raw config ``data`` with every override set (tables created as needed, so
    validation names an unknown one). With ``model``, relative path values are made absolute
    against ``cwd`` (default: the working directory)."""
    out: dict[str, Any] = _copy(data)
    for text in overrides:
        path, value = parse_override(text)
        if model is not None and _is_path(model, path):
            value = _absolute(value, cwd if cwd is not None else Path.cwd())
        elif model is not None and isinstance(value, (int, float)) and _is_text(model, path):
            value = text.partition("=")[2].strip()  # a bool is an int too
        node = out
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = {}
                node[part] = child
            if not isinstance(child, dict):
                raise ConfigError(
                    f"override {text!r}: {'.'.join(path[: i + 1])} is a value, not a table"
                )
            node = child
        node[path[-1]] = value
    return out


def _copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def _is_text(model: type[BaseModel], path: list[str]) -> bool:
    """Whether the field at ``path`` holds text: ``str`` or ``str | None``."""
    annotation = _annotation(model, path)
    return annotation is str or (
        typing.get_origin(annotation) in (typing.Union, types.UnionType)
        and set(typing.get_args(annotation)) == {str, type(None)}
    )


def _annotation(model: type[BaseModel], path: list[str]) -> Any:
    """The annotation of the field at ``path``; None when there is no such field."""
    current: type[BaseModel] | None = model
    annotation: Any = None
    for part in path:
        if current is None:
            return None
        info = next(
            (f for n, f in current.model_fields.items() if part in (n, f.alias)),
            None,
        )
        if info is None:
            return None
        annotation = info.annotation
        current = _model_of(annotation)
    return annotation


def _is_path(model: type[BaseModel], path: list[str]) -> bool:
    """Whether the field at ``path`` holds a filesystem path (or a list of them)."""
    annotation = _annotation(model, path)
    return annotation is not None and "Path" in repr(annotation)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for cand in typing.get_args(annotation) or (annotation,):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _absolute(value: Any, cwd: Path) -> Any:
    if isinstance(value, str) and value:
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else cwd / p)
    if isinstance(value, list):
        return [_absolute(v, cwd) for v in value]
    return value


__all__ = ["parse_override", "set_keys"]
