"""Run the market maker: `mmtrio run [--config FILE]`.

Without --config it reads ./config.toml, or, when the current directory has none, the packaged
default: paper trading on the built-in sim replaying the packaged sample recording (it logs
which). The state directory (journal, control socket, kill file) is printed at start.

With venue.mode = "paper" (the shipped config.toml) it starts the built-in simulated venue for
the configured venue's protocol in this process and paper-trades on it over real HTTP and
websockets; with "testnet" or "live" it connects to the venue (registry: venue.name).
Ctrl-C or SIGTERM stop it cleanly: every order is cancelled and zero open orders confirmed
before it exits (exit 0); SIGHUP reloads the config file (reloadable keys only).
`mmtrio kill`, `mmtrio resume` and `mmtrio status` talk to the running bot over its control socket.

Exit codes: 0 clean stop, 1 crash or open orders not confirmed gone, 2 bad config,
3 stopped by a guard (supervisor escalation, kill switch latched at exit).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mmtrio.cli.common import add_config_option

if TYPE_CHECKING:
    from mmtrio.cli.checkup import CheckedConfig
    from mmtrio.config.locations import ConfigSource
    from mmtrio.errors import MmtrioError

NAME = "run"
HELP = "run the market maker (paper trading on the built-in sim with the default config)"
EPILOG = """\
examples:
  # data/binance-usdm/... paths: from the root of a checkout of mmtrio (an installed
  # package ships one sample, python -c 'import mmtrio.packaged as p; print(p.SAMPLE_RECORDING)')
  mmtrio run                                   # paper trading on the built-in sim, live screen
                                               # (./config.toml, else the packaged default)
  mmtrio run --config /etc/mmtrio/config.toml --json-logs   # headless (systemd): JSON on stdout
  mmtrio run --log-level DEBUG                 # more detail for this run only
  mmtrio run --set sim.data_files='["data/binance-usdm/ethusdt_20240808.gz"]' \
             --set quoting.base_qty=0.01       # any key, as in the file (validated the same way)

In a terminal it shows the live status screen (80x24) with log records above it, each cut
to one line (the full records go to <state_dir>/mmtrio.log); after the screen closes it prints
an exit summary (how it ended, orders, the position left open and its value, session P&L). Without a
terminal (systemd, a pipe), or with --json-logs / [logging] json = true, there is no screen
and every log record is one JSON line on stdout. Under systemd (Type=notify) it sends READY=1
once the start-up reconciliation is done and the market and user streams are connected (not
necessarily quoting: STATUS= says what holds quotes, e.g. the warm-up), STATUS= lines,
watchdog pings while the trading loop runs (WatchdogSec=) and STOPPING=1 with a timeout
extension for the cleanup.

exit codes: 0 clean stop, zero open orders confirmed; 1 crash or open orders not confirmed
gone; 2 bad config or arguments; 3 stopped by a guard (kill switch latched at exit,
supervisor escalation)
"""


def register(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument(
        "--name",
        metavar="BOT",
        help="the bot's name when the config sets no [runtime] name (must match it otherwise); "
        "the systemd template unit passes its instance name",
    )
    parser.add_argument("--log-level", help="override logging.level for this run")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key for this run (repeatable), e.g. --set venue.mode=paper",
    )
    parser.add_argument(
        "--json-logs",
        action="store_true",
        help="no screen; JSON log lines on stdout (the default when stdout is no terminal)",
    )


def run(args: argparse.Namespace) -> int:
    from mmtrio.runtime.hangup import note_early_signals

    restore = note_early_signals()  # first: a signal while starting must not end it unheard
    try:
        return _run(args)
    finally:
        restore()


def _run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_USAGE
    from mmtrio.cli.checkup import check_config
    from mmtrio.cli.preflight import check_state_dir_free
    from mmtrio.config.locations import resolve_config
    from mmtrio.errors import ConfigError, StateDirError
    from mmtrio.runtime.control_claim import claim_control_socket

    try:
        source = resolve_config(args.config)  # as every command finds it (cli/common.py)
        # every config problem at once, as `mmtrio config check` lists them
        checked = check_config(
            source.path, name=args.name, overrides=args.set or (), credentials=True
        )
        config = checked.config
        check_state_dir_free(config.runtime.state_dir)
        # Held until the process exits: no other bot can take the path meanwhile, however
        # close together two start (runtime/control_claim.py).
        claim = claim_control_socket(config.runtime.control_socket, config.runtime.name)
    except (ConfigError, StateDirError) as exc:
        print(f"mmtrio run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run_claimed(args, source, checked)
    finally:
        claim.release()


def _run_claimed(args: argparse.Namespace, source: ConfigSource, checked: CheckedConfig) -> int:
    import functools

    import trio
    from loguru import logger

    from mmtrio.cli import EXIT_FAILED, EXIT_USAGE
    from mmtrio.cli.paper import paper_venue
    from mmtrio.cli.preflight import check_metrics_port
    from mmtrio.cli.venue import live_settings
    from mmtrio.config import load_config
    from mmtrio.errors import ConfigError, DataFileError, MmtrioError, StateDirError
    from mmtrio.runtime.engine import Engine
    from mmtrio.runtime.logging import pin_level
    from mmtrio.runtime.surface import configure_output

    config, factory, credentials = checked.config, checked.factory, checked.credentials
    try:
        check_metrics_port(config, source.path)
        level = args.log_level or config.logging.level
        mode = configure_output(config, json_flag=args.json_logs, level=level)
        if args.log_level:
            pin_level(args.log_level)  # a reload of logging.level does not override it
    except (ConfigError, StateDirError) as exc:
        print(f"mmtrio run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logger.info("{}", source.describe())
    logger.info(
        "bot {}: state directory {} (journal, control socket, kill file{})",
        config.runtime.name,
        config.runtime.state_dir,
        ", log file" if mode.console is not None else "",
    )
    engines: list[Engine] = []
    reload_config = functools.partial(
        load_config, source.path, name=args.name, overrides=tuple(args.set or ())
    )

    async def main() -> int:
        if config.venue.mode == "paper":
            async with paper_venue(config) as paper:
                engine = Engine(
                    config,
                    config_path=source.path,
                    venue=factory,
                    settings=paper.settings,
                    credentials=paper.credentials,
                    console=mode.console,
                    reload_config=reload_config,
                )
                engines.append(engine)
                return await engine.run()
        if credentials is None:  # loaded above: testnet/live always have them
            raise ConfigError("testnet/live need credentials")
        engine = Engine(
            config,
            config_path=source.path,
            venue=factory,
            settings=live_settings(config, factory),
            credentials=credentials,
            console=mode.console,
            reload_config=reload_config,
        )
        engines.append(engine)
        return await engine.run()

    try:
        code: int = trio.run(main)
    except (MmtrioError, BaseExceptionGroup) as exc:
        # Trio's nurseries wrap what a task raised in an exception group: a damaged or
        # unwritable journal at start once surfaced as a traceback instead of this line.
        error = _carried_error(exc)
        if error is None:
            raise
        print(f"mmtrio run: {error}", file=sys.stderr)
        usage = isinstance(error, ConfigError | StateDirError | DataFileError)
        return EXIT_USAGE if usage else EXIT_FAILED
    summary = engines[0].exit_summary if engines else None
    if summary is not None:
        printed = False
        if mode.console is not None:
            text = summary.text(width=mode.console.width)
            try:
                mode.console.print(text, markup=False, highlight=False, soft_wrap=True)
                printed = True
            except OSError:  # the terminal is gone (runtime/screen.py): the log has it
                pass
        if not printed:
            logger.info("exit summary:\n{}", summary.text())
    return code


def _carried_error(exc: BaseException) -> MmtrioError | None:
    """The one mmtrio error ``exc`` is or carries through nested single-error groups."""
    from mmtrio.errors import MmtrioError

    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc if isinstance(exc, MmtrioError) else None
