"""A config file checked the way `mmtrio run` needs it, every problem listed at once.

`mmtrio config check`, `mmtrio run` and `mmtrio record` call :func:`check_config`: the file's
own rules (every key of every section, and the rules spanning sections), then what only the
world can tell — the venue's rules for its URLs, in paper mode the recording to replay, the
API credentials (when asked) and, with ``[telegram] enabled``, the bot token (unless the
command sends nothing to Telegram). A section with problems of its
own is left out of the checks that read it; every other check still runs, so one attempt
lists everything an operator has to fix. A file that cannot be read or parsed as TOML stops
there (``ConfigError``): there is nothing to check yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmtrio.cli.paper import paper_problems
from mmtrio.cli.venue import venue_problems
from mmtrio.config import Config, SimConfig, VenueConfig, load_config, load_venue_credentials
from mmtrio.config.credentials import credential_problems, telegram_token_problems
from mmtrio.config.loading import ConfigValidationError, Problem
from mmtrio.config.notify import TelegramConfig
from mmtrio.venues.protocol import VenueCredentials, VenueFactory


@dataclass(frozen=True, slots=True)
class CheckedConfig:
    """A config that passed every check, its venue's factory, and the credentials when they
    were asked for (``None`` in paper mode, where the simulated venue's keys are used)."""

    config: Config
    factory: VenueFactory
    credentials: VenueCredentials | None


def check_config(
    path: str | Path,
    *,
    name: str | None = None,
    overrides: Sequence[str] = (),
    credentials: bool = False,
    telegram: bool = True,
    environ: Mapping[str, str] | None = None,
) -> CheckedConfig:
    """Load ``path`` as :func:`mmtrio.config.load_config` does and check it all (module
    docstring). ``credentials`` also resolves the venue's API secrets (testnet/live);
    ``telegram=False`` leaves the bot token alone (a command that sends no message).

    Raises :class:`ConfigValidationError` listing every problem found (its ``sections``: those
    that validated, for a caller's own checks), or ``ConfigError`` when the file cannot be read
    or is not TOML.
    """
    problems: list[Problem] = []
    config: Config | None = None
    try:
        config = load_config(path, name=name, overrides=overrides)
        sections: Mapping[str, Any] = sections_of(config)
        source = str(path) + (f" with --set {' '.join(overrides)}" if overrides else "")
    except ConfigValidationError as exc:
        config, sections, source = None, exc.sections, exc.source
        problems.extend(exc.problems)
    factory = _world_problems(sections, credentials, telegram, environ, problems)
    if problems or config is None or factory is None:
        raise ConfigValidationError(source, problems, sections)
    creds = None
    if credentials:  # every problem was listed above: this only reads them
        creds = load_venue_credentials(config.venue, factory.credential_fields, environ)
    return CheckedConfig(config, factory, creds)


def sections_of(config: Config) -> dict[str, Any]:
    """A valid config's sections by name, as ``ConfigValidationError.sections`` has them."""
    return {name: getattr(config, name) for name in Config.model_fields}


def _world_problems(
    sections: Mapping[str, Any],
    credentials: bool,
    telegram: bool,
    environ: Mapping[str, str] | None,
    problems: list[Problem],
) -> VenueFactory | None:
    """Add the problems of the checks beyond the file; the venue's factory when known."""
    venue, sim = sections.get("venue"), sections.get("sim")
    factory = None
    if isinstance(venue, VenueConfig):
        factory, found = venue_problems(venue)
        problems.extend(found)
        # (no [sim], or nothing in it to replay: a rule of the file, listed already)
        paper = factory is not None and venue.mode == "paper"
        if paper and isinstance(sim, SimConfig) and (sim.synthetic or sim.data_files):
            problems.extend(paper_problems(venue, sim))
        if factory is not None and credentials:
            for text in credential_problems(venue, factory.credential_fields, environ):
                problems.append(Problem("credentials", None, text, None))
    bot = sections.get("telegram")
    if telegram and isinstance(bot, TelegramConfig) and bot.enabled:
        for text in telegram_token_problems(bot.token_file, environ):
            problems.append(Problem("telegram", None, text, None))
    return factory
