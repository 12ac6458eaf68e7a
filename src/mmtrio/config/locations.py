"""Where a bot's files live when the config does not say, and which config file a command uses.

Decisions (documented in README and docs/OPERATOR.md):

- **Which config.** ``--config FILE`` if given; else ``./config.toml`` if the current directory
  has one (a checkout of the project, or a directory made by ``mmtrio init``); else the packaged
  default (paper trading on the built-in sim with the packaged sample recording). Every
  command resolves it the same way, so ``mmtrio run`` and ``mmtrio status`` typed in the same
  directory talk about the same bot. The choice is said out loud (``ConfigSource.describe``).
- **Bot name.** ``[runtime] name``, default from ``[venue]`` in lower case: ``<name>-<symbol>``
  live (``binance-btcusdt``), ``<name>-testnet-<symbol>`` on the testnet and
  ``<name>-paper[-<symbol>]`` in paper mode (the symbol is optional there: the recording names
  it). A paper or testnet bot never shares a state directory (journal, kill file) with the live
  bot of the same symbol. The name labels the metrics and names the state directory.
- **State root.** ``$MMTRIO_STATE_ROOT`` if set (the systemd template unit sets it to
  ``/var/lib/mmtrio``), else the per-user state directory of platformdirs
  (``~/.local/state/mmtrio`` on Linux, honouring ``$XDG_STATE_HOME``).
- **State directory.** ``[runtime] state_dir``, default ``<state root>/<bot name>``; the control
  socket (``control.sock``) and the kill file (``KILL``) default to files inside it. One
  directory per bot is what lets several bots share a machine (``mmtrio status --all`` lists
  every bot directory under the root).

The venue label (``venue_label``) is the one place that says which config key names the
venue (``[venue] name``), so the metric labels and the default bot name follow a config-format
change in one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmtrio.config.model import Config

STATE_ROOT_ENV = "MMTRIO_STATE_ROOT"
LOCAL_CONFIG = "config.toml"
CONTROL_SOCKET_NAME = "control.sock"
KILL_FILE_NAME = "KILL"
BOT_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def state_root(environ: Mapping[str, str] | None = None) -> Path:
    """The directory holding one state directory per bot (see module docstring)."""
    env = os.environ if environ is None else environ
    explicit = env.get(STATE_ROOT_ENV)
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_path("mmtrio", appauthor=False))


def raw_venue_label(venue: Mapping[str, Any]) -> str:
    """The venue's label from a raw ``[venue]`` table (before validation)."""
    value = venue.get("name")
    return str(value) if isinstance(value, str) else "venue"


def venue_label(config: Config) -> str:
    """The venue label of a validated config (metric label ``venue``)."""
    return config.venue.name


def default_bot_name(venue: str, mode: str, symbol: str | None) -> str:
    """The default ``[runtime] name`` (module docstring): ``binance-btcusdt`` live,
    ``binance-testnet-btcusdt``, ``binance-paper-btcusdt`` or ``binance-paper``."""
    parts = [venue] if mode == "live" else [venue, mode]
    if symbol:
        parts.append(symbol)
    return "-".join(parts).lower()


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """The config file a command uses and why that one."""

    path: Path
    origin: str  # "flag" | "cwd" | "packaged"

    @property
    def packaged(self) -> bool:
        return self.origin == "packaged"

    def describe(self) -> str:
        if self.origin == "flag":
            return f"config {self.path}"
        if self.origin == "cwd":
            return f"config {self.path} (found in the current directory)"
        return (
            f"no --config and no ./{LOCAL_CONFIG}: using the packaged default config "
            f"{self.path} (paper trading on the built-in sim); `mmtrio init` writes a copy "
            "to edit"
        )


def resolve_config(flag: str | None, cwd: Path | None = None) -> ConfigSource:
    """Which config file a command reads (module docstring)."""
    if flag is not None:
        return ConfigSource(Path(flag), "flag")
    local = (cwd if cwd is not None else Path.cwd()) / LOCAL_CONFIG
    if local.is_file():
        return ConfigSource(local, "cwd")
    from mmtrio.packaged import DEFAULT_CONFIG

    return ConfigSource(DEFAULT_CONFIG, "packaged")


def with_location_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Raw TOML data with the documented defaults for paths filled in (a copy).

    Runs before validation, so the filled-in values are validated like typed ones: the bot
    name, the state directory, the control socket and the kill file; and, for the built-in sim,
    the packaged sample recording when ``[sim]`` lists no ``data_files`` key at all (an
    explicit empty list stays an error).
    """
    out = dict(data)
    venue = out.get("venue")
    if not isinstance(venue, dict):
        return out  # the validator reports the missing/invalid [venue] table
    runtime = out.get("runtime", {})
    if not isinstance(runtime, dict):
        return out
    runtime = dict(runtime)
    symbol = venue.get("symbol")
    mode = venue.get("mode")
    name = runtime.get("name")
    # Without a symbol in testnet/live the name is the venue's and mode's alone: validation
    # then names the one thing missing (the symbol), not the paths that depend on the name.
    if name is None and isinstance(mode, str):
        name = default_bot_name(
            raw_venue_label(venue), mode, symbol if isinstance(symbol, str) else None
        )
        runtime["name"] = name
    if "state_dir" not in runtime and isinstance(name, str) and BOT_NAME.match(name):
        runtime["state_dir"] = str(state_root() / name)
    state_dir = runtime.get("state_dir")
    if isinstance(state_dir, str):
        runtime.setdefault("control_socket", f"{state_dir.rstrip('/')}/{CONTROL_SOCKET_NAME}")
        risk = out.get("risk")
        if isinstance(risk, dict) and "kill_file" not in risk:
            out["risk"] = {**risk, "kill_file": f"{state_dir.rstrip('/')}/{KILL_FILE_NAME}"}
    out["runtime"] = runtime
    if venue.get("mode") == "paper":
        sim = out.get("sim", {})
        if isinstance(sim, dict) and "data_files" not in sim and sim.get("synthetic") is not True:
            from mmtrio.packaged import SAMPLE_RECORDING

            out["sim"] = {**sim, "data_files": [str(SAMPLE_RECORDING)]}
    return out


__all__ = [
    "BOT_NAME",
    "STATE_ROOT_ENV",
    "ConfigSource",
    "default_bot_name",
    "raw_venue_label",
    "resolve_config",
    "state_root",
    "venue_label",
    "with_location_defaults",
]
