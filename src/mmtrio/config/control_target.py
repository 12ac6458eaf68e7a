"""Where the running bot listens, found without validating the config file.

The emergency stop must not depend on an unrelated key: with ``gamma = -1`` written into
``config.toml`` while the bot runs, ``mmtrio kill``, ``status`` and ``resume`` must still reach
it (DESIGN.md §4). They need only two paths, the control socket and the kill file, so this
module reads only what locates them:

1. the TOML is parsed without validation and the documented location defaults are filled in
   (:func:`mmtrio.config.locations.with_location_defaults`: bot name from ``[venue]``, state
   directory, ``control.sock`` and ``KILL`` inside it); relative paths are taken from the
   file's directory, as the validated config does;
2. a file that is not even valid TOML is scanned line by line for those few keys
   (``[venue] name/mode/symbol``, ``[runtime] name/state_dir/control_socket``,
   ``[risk] kill_file``), so a half-edited file still leads to the bot;
3. ``--state-dir DIR`` on the command line bypasses the file altogether;
4. ``--name NAME`` sets the bot's name the way `mmtrio run --name` does (the same function,
   :func:`mmtrio.config.loading.with_bot_name`), so the state directory is the one that run
   used (the systemd template unit runs ``--name <instance>``).

What could not be located is None, with the reason in ``problems``; the config's own
problems are reported separately by the commands (as a warning: they do not stop a kill).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmtrio.config.locations import CONTROL_SOCKET_NAME, KILL_FILE_NAME, with_location_defaults

_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.]+)\s*\]\s*(#.*)?$")
_STRING_KEY = re.compile(r"""^\s*([A-Za-z0-9_]+)\s*=\s*(?:"([^"]*)"|'([^']*)')\s*(#.*)?$""")
_WANTED = {
    "venue": {"name", "mode", "symbol"},
    "runtime": {"name", "state_dir", "control_socket"},
    "risk": {"kill_file"},
}


@dataclass(frozen=True, slots=True)
class ControlTarget:
    """The bot's name, control socket, kill file and state directory (None: not found;
    ``problems`` says why)."""

    bot: str | None
    control_socket: Path | None
    kill_file: Path | None
    problems: tuple[str, ...] = field(default=())
    state_dir: Path | None = None


def scan_strings(text: str) -> dict[str, Any]:
    """The wanted string keys of a file that is not valid TOML, by table (see module doc)."""
    out: dict[str, dict[str, str]] = {}
    table: str | None = None
    for line in text.splitlines():
        head = _TABLE.match(line)
        if head:
            table = head.group(1)
            continue
        kv = _STRING_KEY.match(line)
        if kv and table in _WANTED and kv.group(1) in _WANTED[table]:
            value = kv.group(2) if kv.group(2) is not None else kv.group(3)
            out.setdefault(table, {})[kv.group(1)] = value
    return dict(out)


def _path(value: object, base: Path) -> Path | None:
    if not isinstance(value, str) or not value:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def from_state_dir(state_dir: Path) -> ControlTarget:
    """``--state-dir DIR``: the documented files inside it."""
    return ControlTarget(
        state_dir.name,
        state_dir / CONTROL_SOCKET_NAME,
        state_dir / KILL_FILE_NAME,
        state_dir=state_dir,
    )


def control_target(path: Path, name: str | None = None) -> ControlTarget:
    """Locate the bot of config file ``path`` without validating it (module docstring).

    ``name`` is ``--name``: raises ``ConfigError`` when the file names another bot, as
    `mmtrio run --name` does.
    """
    from mmtrio.config.loading import with_bot_name

    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return ControlTarget(None, None, None, (f"config file {path} cannot be read: {exc}",))
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.append(
            f"config file {path} is not valid TOML ({exc}); read its paths line by line"
        )
        data = scan_strings(text)
    if name is not None:
        data = with_bot_name(data, name, path)
    filled = with_location_defaults(data)
    runtime = filled.get("runtime")
    risk = filled.get("risk")
    runtime = runtime if isinstance(runtime, dict) else {}
    risk = risk if isinstance(risk, dict) else {}
    base = path.resolve().parent
    socket = _path(runtime.get("control_socket"), base)
    kill = _path(risk.get("kill_file"), base)
    state_dir = _path(runtime.get("state_dir"), base)
    if kill is None and state_dir is not None:
        kill = state_dir / KILL_FILE_NAME  # the documented default, also without a [risk] table
    if socket is None:
        problems.append(
            f"config file {path} does not locate the control socket ([runtime] state_dir or "
            "control_socket, or [venue] name/mode for the default); pass --state-dir DIR"
        )
    bot = runtime.get("name")
    return ControlTarget(
        bot if isinstance(bot, str) else None, socket, kill, tuple(problems), state_dir
    )


__all__ = ["ControlTarget", "control_target", "from_state_dir", "scan_strings"]
