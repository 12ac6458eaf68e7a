"""What several commands share: the --config option and how a command finds its config.

Every command that needs a config resolves it the same way
(:func:`mmtrio.config.locations.resolve_config`): ``--config FILE``, else ``./config.toml``,
else the packaged default. So `mmtrio run`, `status`, `kill`, `resume` and `report` typed in
the same directory (any directory) talk about the same bot.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmtrio.config import Config
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
