"""What a live reload (SIGHUP) would change, and whether it may.

Each config field is marked reloadable or not where it is declared
(:func:`mmtrio.config.fields.setting`). :func:`diff_reload` compares the running config with a
freshly loaded one key by key: changes to reloadable keys are listed for the engine to apply;
changes to immutable keys are *refused*. A plan with any refusal must be rejected as a whole —
applying half of an operator's edit leaves the bot in a state nobody wrote down.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

from mmtrio.config.fields import is_reloadable
from mmtrio.config.model import Config
from mmtrio.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One key whose value differs between the running and the new config."""

    key: str  # dotted path as in the TOML, e.g. "quoting.gamma"
    old: Any
    new: Any
    reloadable: bool

    def __str__(self) -> str:
        return f"{self.key}: {plain(self.old)} → {plain(self.new)}"


def plain(value: object) -> str:
    """A config value as an operator writes it in the TOML (``50``, ``0.01``,
    ``/var/lib/mmtrio/KILL``, ``binance``), not a Python repr (``Decimal('50')``,
    ``PosixPath('…')``): the reload line goes to the log, the screen and the journal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, str | PurePath):
        return str(value) or '""'
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(plain(v) for v in value) + "]"
    if isinstance(value, BaseModel):
        return "a table"  # a whole table that appears or disappears ([sim])
    if value is None:
        return "unset"
    return str(value)  # numbers; SecretStr prints as asterisks


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """The outcome of comparing two configs: what to apply and what is refused."""

    changes: tuple[ConfigChange, ...]  # reloadable keys that changed: apply these
    refused: tuple[ConfigChange, ...]  # immutable keys that changed: the reload is refused

    @property
    def ok(self) -> bool:
        """True when the new config may be applied (no immutable key changed)."""
        return not self.refused

    @property
    def empty(self) -> bool:
        return not self.changes and not self.refused

    def describe(self) -> str:
        """A log line: what changes, or why the reload is refused."""
        if self.empty:
            return "config reload: no change"
        if not self.ok:
            return (
                "config reload refused, nothing applied: these keys need a restart: "
                + "; ".join(str(c) for c in self.refused)
                + ". Revert them in the file (or restart the bot) and reload again."
            )
        return "config reload: " + "; ".join(str(c) for c in self.changes)

    def raise_if_refused(self) -> None:
        """Raise ConfigError with :meth:`describe` when any immutable key changed."""
        if not self.ok:
            raise ConfigError(self.describe())


def diff_reload(old: Config, new: Config) -> ReloadPlan:
    """Compare the running config ``old`` with ``new``, key by key."""
    changes: list[ConfigChange] = []
    refused: list[ConfigChange] = []
    for change in _diff(old, new, prefix=""):
        (changes if change.reloadable else refused).append(change)
    return ReloadPlan(changes=tuple(changes), refused=tuple(refused))


def _diff(old: BaseModel, new: BaseModel, *, prefix: str) -> Iterator[ConfigChange]:
    for name, info in type(old).model_fields.items():
        key = prefix + (info.alias or name)
        a, b = getattr(old, name), getattr(new, name)
        if isinstance(a, BaseModel) and isinstance(b, BaseModel) and type(a) is type(b):
            # Inside a table each key's own marker decides (e.g. runtime.reconcile_interval_s
            # reloads although runtime.state_dir does not); the table's own marker only
            # matters when the whole table appears or disappears ([sim]).
            yield from _diff(a, b, prefix=key + ".")
        elif a != b:
            # An unmarked field counts as immutable: refusing is the safe side (and the test
            # suite checks that every field is marked).
            reloadable = is_reloadable(info) is True
            yield ConfigChange(key=key, old=a, new=b, reloadable=reloadable)
