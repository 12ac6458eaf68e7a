"""What several commands share: the --config option, how a command finds its config, and the
up-front check of an output file (:func:`output_path`).

Every command that needs a config resolves it the same way
(:func:`mmtrio.config.locations.resolve_config`): ``--config FILE``, else ``./config.toml``,
else the packaged default. So `mmtrio run`, `status`, `kill`, `resume` and `report` typed in
the same directory (any directory) talk about the same bot.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmtrio.config import Config
    from mmtrio.config.control_target import ControlTarget
    from mmtrio.config.locations import ConfigSource

CONFIG_HELP = (
    "config file (default: ./config.toml if present, else the packaged paper-trading default)"
)


def add_config_option(parser: argparse.ArgumentParser, help_text: str = CONFIG_HELP) -> None:
    """``--config FILE`` with the shared default resolution (module docstring)."""
    parser.add_argument("--config", metavar="FILE", default=None, help=help_text)


def load_command_config(
    flag: str | None, name: str | None = None, overrides: Sequence[str] = ()
) -> tuple[Config, ConfigSource]:
    """The resolved config (with ``--set`` ``overrides`` applied before the defaults that
    depend on them) and where it came from; raises ``ConfigError``."""
    from mmtrio.config import load_config
    from mmtrio.config.locations import resolve_config

    source = resolve_config(flag)
    return load_config(source.path, name=name, overrides=overrides), source


STATE_DIR_HELP = (
    "the bot's state directory (its control.sock and KILL): reach the bot without reading "
    "any config file"
)


NAME_HELP = (
    "the bot's name, as given to `mmtrio run --name` (the systemd template unit passes its "
    "instance name): its state directory is <state root>/NAME unless the config sets one"
)


def add_name_option(parser: argparse.ArgumentParser) -> None:
    """``--name BOT``: the bot's name when the config sets none, as `mmtrio run --name`."""
    parser.add_argument("--name", metavar="BOT", default=None, help=NAME_HELP)


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``, ``--name BOT`` and ``--state-dir DIR`` for the commands that talk
    to a running bot."""
    add_config_option(parser)
    add_name_option(parser)
    parser.add_argument("--state-dir", metavar="DIR", default=None, help=STATE_DIR_HELP)


def check_target_flags(name: str | None, state_dir: str | None) -> None:
    """``--name`` and ``--state-dir`` both say where the bot is: one of them (ConfigError)."""
    from mmtrio.errors import ConfigError

    if name is not None and state_dir is not None:
        raise ConfigError(
            "--name and --state-dir both locate the bot; pass one (--state-dir DIR is the "
            "directory itself, --name BOT the name given to `mmtrio run --name`)"
        )


def find_bot(
    config_flag: str | None, state_dir: str | None, name: str | None = None
) -> tuple[ControlTarget, list[str]]:
    """The running bot's control socket and kill file, and warnings for the operator.

    Never refuses because of an unrelated config problem (``mmtrio.config.control_target``):
    the config is validated only to warn about it. ``name`` is ``--name``, applied as
    `mmtrio run --name` applies it; a file naming another bot, or ``--name`` together with
    ``--state-dir``, raises ``ConfigError`` (exit 2: a usage mistake).
    """
    from pathlib import Path

    from mmtrio.config import load_config
    from mmtrio.config.control_target import control_target, from_state_dir
    from mmtrio.config.locations import resolve_config
    from mmtrio.errors import ConfigError

    check_target_flags(name, state_dir)
    if state_dir is not None:
        return from_state_dir(Path(state_dir).expanduser().resolve()), []
    source = resolve_config(config_flag)
    target = control_target(source.path, name)
    warnings = list(target.problems)
    if not target.problems:
        try:
            load_config(source.path, name=name)
        except ConfigError as exc:
            first = str(exc).splitlines()
            warnings.append(
                f"{' '.join(first[:2])} — the bot is reached through its control socket "
                "all the same (fix the file before the next start or SIGHUP)"
            )
    return target, warnings


def made_dir(path: Path, named: str) -> Path:
    """``path`` as a directory, created now if missing; ``ParameterError`` (exit 2) naming
    ``named`` (the flag or variable it came from) when it is a file or cannot be made."""
    from mmtrio.errors import ParameterError

    if path.exists() and not path.is_dir():
        raise ParameterError(f"{named} is a file, not a directory; choose another path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(
            f"{named}: cannot create the directory ({exc.strerror or exc}); choose another path"
        ) from exc
    return path


def output_path(text: str, flag: str) -> Path:
    """``text`` as a file the command will write, checked before any work is done: its
    directory exists and is writable, and it is not a directory itself. Raises
    ``ParameterError`` (exit 2) naming the flag and the path, so a long run never ends by
    losing its result to a typo in an output path."""
    from mmtrio.errors import ParameterError

    path = Path(text).expanduser()
    parent = path.parent
    if path.is_dir():
        raise ParameterError(f"{flag} {text} is a directory; give a file name")
    if not parent.is_dir():
        raise ParameterError(
            f"{flag} {text}: directory {parent} does not exist; create it or choose another path"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ParameterError(
            f"{flag} {text}: directory {parent} is not writable; choose another path"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise ParameterError(f"{flag} {text} exists and is not writable; choose another path")
    return path
