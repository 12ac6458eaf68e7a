"""Loading a TOML file into a :class:`Config`, reporting every problem at once.

An operator fixing a config file wants the whole list, not one error per attempt: pydantic
collects every field error across all sections, and each section reports all of its cross-field
problems in one go. pydantic skips the rules spanning sections when any section failed, so
:func:`parse_config` then applies them to the sections that validated on their own, and hands
those sections on (``ConfigValidationError.sections``) to the checks beyond the file
(:mod:`mmtrio.cli.checkup`). Each problem names the key path, the value found and the allowed
range with its unit. Values of secret-looking keys are never echoed.
"""

from __future__ import annotations

import re
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from mmtrio.config.fields import describe_allowed
from mmtrio.config.locations import with_location_defaults
from mmtrio.config.model import Config, cross_section_problems
from mmtrio.config.overrides import set_keys
from mmtrio.config.toml_errors import describe_duplicate
from mmtrio.errors import ConfigError

# Key names whose values must never be printed (a secret pasted into the TOML by mistake).
_SECRET_KEY = re.compile(r"(secret|api_?key|password|passphrase|token)(?!_file)", re.IGNORECASE)
_MAX_VALUE_CHARS = 80


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a config file: where, what was found, why, and what is allowed."""

    key: str
    value: str | None  # display form (repr, truncated, or "<redacted>"); None when not shown
    message: str
    allowed: str | None

    def __str__(self) -> str:
        where = self.key if self.value is None else f"{self.key} = {self.value}"
        text = f"{where}: {self.message}"
        return f"{text} (allowed: {self.allowed})" if self.allowed else text


class ConfigValidationError(ConfigError):
    """A config file has one or more problems; ``problems`` lists every one of them."""

    def __init__(
        self,
        source: str,
        problems: Sequence[Problem],
        sections: Mapping[str, Any] | None = None,
    ) -> None:
        self.source = source
        self.problems = tuple(problems)
        # The sections that validated on their own (name → section; ``sim`` may be None):
        # what the checks beyond the file (credentials, the recording) can still look at.
        self.sections: Mapping[str, Any] = dict(sections or {})
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{source}: {count} configuration problem{'s' if count != 1 else ''}; fix every "
            f"one listed:\n{lines}"
        )


def load_config(
    path: str | Path, *, name: str | None = None, overrides: Sequence[str] = ()
) -> Config:
    """Read and validate a TOML config file.

    Relative paths inside the file are resolved against the file's directory. ``name`` sets
    ``[runtime] name`` when the file sets none (and must equal it when it does).
    ``overrides`` (``section.key=value``, :mod:`mmtrio.config.overrides`) are applied to the
    file's data before the defaults that depend on other keys (bot name, state paths). Raises
    :class:`mmtrio.errors.ConfigError` (a :class:`ConfigValidationError` when the TOML parsed)
    whose message lists every problem: key path, value and allowed range.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"config file {file} not found; pass the path of a TOML file "
            "(`mmtrio init` writes a commented one; without --config, mmtrio uses "
            "./config.toml or its packaged default)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config file {file} cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {file} is not UTF-8 text: {exc.reason}") from None
    except tomllib.TOMLDecodeError as exc:
        dup = describe_duplicate(text, str(exc))
        detail = f"{dup} ({exc})" if dup else str(exc)
        raise ConfigError(f"config file {file} is not valid TOML: {detail}") from None
    if overrides:
        data = set_keys(data, overrides, Config)
    if name is not None:
        data = with_bot_name(data, name, file)
    source = str(file) + (f" with --set {' '.join(overrides)}" if overrides else "")
    return parse_config(data, base_dir=file.resolve().parent, source=source)


def with_bot_name(data: dict[str, Any], name: str, file: Path) -> dict[str, Any]:
    """Raw TOML ``data`` with ``[runtime] name`` set to ``name`` (a copy).

    `mmtrio run --name` (the systemd template unit passes its instance name): the bot's name
    when the file sets none, a guard when it sets another one (``ConfigError``). `kill`,
    `status`, `resume` and `report` take ``--name`` through this same function, so they find
    the state directory `run --name` used.
    """
    runtime = data.get("runtime", {})
    given = runtime.get("name") if isinstance(runtime, dict) else None
    if given is not None and given != name:
        raise ConfigError(
            f"config file {file} names the bot {given!r} but --name is {name!r}: one config "
            "file per instance (/etc/mmtrio/<instance>.toml with [runtime] name = "
            '"<instance>")'
        )
    return {**data, "runtime": {**(runtime if isinstance(runtime, dict) else {}), "name": name}}


def parse_config(data: Mapping[str, Any], *, base_dir: Path, source: str = "<config>") -> Config:
    """Validate already-parsed TOML data; relative paths resolve against ``base_dir``."""
    venue = data.get("venue")
    # [sim] is read only in paper mode: its recordings need not exist for testnet or live
    paper = not isinstance(venue, Mapping) or venue.get("mode", "paper") == "paper"
    full = with_location_defaults(dict(data))
    context = {"base_dir": base_dir, "paper": paper}
    try:
        return Config.model_validate(full, context=context)
    except ValidationError as exc:
        problems = problems_of(exc)
        sections = sections_alone(full, context)
        # pydantic skips Config's own rules when a section failed: apply them to the rest
        ran = any(not err["loc"] for err in exc.errors(include_url=False))
        spanning = [] if ran else cross_section_problems(sections)
        if spanning:
            problems.append(Problem("<top level>", None, "; ".join(spanning), None))
        raise ConfigValidationError(source, problems, sections) from None


def sections_alone(data: Mapping[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Every section of ``data`` that validates on its own (an absent one: its default), by
    name; a section with problems is left out (``problems_of`` lists them)."""
    found: dict[str, Any] = {}
    for name, info in Config.model_fields.items():
        model = _model_of(info.annotation)
        if name not in data:
            if not info.is_required():
                found[name] = info.get_default(call_default_factory=True)
            continue
        if model is None:
            continue
        try:
            found[name] = model.model_validate(data[name], context=context)
        except ValidationError:
            continue
    return found


def problems_of(exc: ValidationError) -> list[Problem]:
    """Turn pydantic's errors into operator-readable problems (one per error)."""
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        key = ".".join(str(part) for part in loc) or "<top level>"
        info, parent = _lookup(loc)
        kind = err["type"]
        message = str(err["msg"])
        shown: str | None = _show(loc, err.get("input"))
        allowed = describe_allowed(info) if info is not None else None
        if kind == "missing":
            message, shown = "required key is missing", None
        elif kind == "extra_forbidden":
            names = _keys_of(parent)
            message = "unknown key (a typo?)"
            if _is_secret(loc):
                message = (
                    "secrets are never read from the config file: set MMTRIO_API_KEY / "
                    "MMTRIO_API_SECRET in the environment, or venue.api_key_file / "
                    "venue.api_secret_file (mode 0600)"
                )
            allowed = "keys here: " + ", ".join(names) if names else None
        elif kind == "cross_field":
            message = str(err.get("ctx", {}).get("problems", message))
            shown, allowed = None, None
        elif kind == "model_type" or (info is None and isinstance(err.get("input"), dict)):
            message = "expected a table, e.g. [" + key + "]" if kind == "model_type" else message
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        problems.append(Problem(key=key, value=shown, message=message, allowed=allowed))
    return problems


def _lookup(loc: tuple[int | str, ...]) -> tuple[FieldInfo | None, type[BaseModel] | None]:
    """The field a location points at, and the model class that holds it."""
    model: type[BaseModel] | None = Config
    info: FieldInfo | None = None
    parent: type[BaseModel] | None = Config
    for part in loc:
        if isinstance(part, int):
            continue  # a list index: still the same field
        if model is None:
            return None, parent
        parent = model
        info = _field_named(model, part)
        if info is None:
            return None, parent
        model = _model_of(info.annotation)
    return info, parent


def _field_named(model: type[BaseModel], name: str) -> FieldInfo | None:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    candidates = typing.get_args(annotation) or (annotation,)
    for cand in candidates:
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _keys_of(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _is_secret(loc: tuple[int | str, ...]) -> bool:
    return any(isinstance(p, str) and _SECRET_KEY.search(p) for p in loc)


def _show(loc: tuple[int | str, ...], value: Any) -> str | None:
    if isinstance(value, dict):
        return None  # a whole table: the problem text names what is wrong in it
    if _is_secret(loc):
        return "<redacted>"
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 1] + "…"
    return text
