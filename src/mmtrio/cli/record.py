"""Record a venue's market data in the hftbacktest collector format, with rotation.

  mmtrio record [--config F] [--out DIR] [--duration S] [--rotate daily|Nmin|NMB] [--json]

The venue and symbol come from the config, as for `mmtrio run`: in paper mode (the default
config) the built-in simulated venue is started and its market feed recorded, over the same
protocol and client the bot uses; in testnet/live mode the venue's own public streams (its
market feed through the venue package, so continuity is checked and gaps resync as live).
The config is checked as `mmtrio run` checks it, every problem listed at once
(:func:`mmtrio.cli.checkup.check_config`), for what a recording needs: the venue and its URLs,
in paper mode the recording the sim replays, in testnet/live the API credentials the session
opens with; not the Telegram token.
Files are gzip text, one message a line (``<local_receive_ns> <json>``), readable by
`mmtrio backtest`, `mmtrio data convert`, every venue's simulated venue and hftbacktest's
converter. Any of the four venues is recorded: OKX's, Hyperliquid's and Extended's feeds are
written as Binance would name and size that market (the symbol base + quote, sizes in the
base asset, a whole-book feed as its changes; :mod:`mmtrio.venues.binance.collector`).
Rotation: daily at 00:00 UTC (default, as the collector), every N minutes (``30min``) or past
N MB of text (``100MB``); a rotated file continues the one before. Ctrl-C (or --duration)
flushes and closes the current file; the summary lists the files and what they hold.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmtrio.cli.checkup import CheckedConfig

NAME = "record"
HELP = "record a venue's market data (the sim's in paper mode) in the collector format"
EPILOG = """\
examples:
  mmtrio record --out recordings --duration 60          # a minute of the paper venue's feed
  mmtrio record --config live.toml --out /data --rotate daily
  mmtrio backtest --data recordings/btcusdt_20260101_120000.gz

exit codes: 0 done; 1 failed; 2 bad arguments or config
"""


def register(parser: argparse.ArgumentParser) -> None:
    from mmtrio.cli.common import add_config_option

    add_config_option(parser)
    parser.add_argument("--out", default="recordings", metavar="DIR", help="output directory")
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds (default: until Ctrl-C)"
    )
    parser.add_argument(
        "--rotate", default="daily", help="daily (00:00 UTC), Nmin, or NMB (default daily)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def parse_rotation(text: str) -> Any:
    from mmtrio.data.record import Rotation
    from mmtrio.errors import ParameterError

    t = text.strip().lower()
    usage = "use daily, Nmin (e.g. 30min) or NMB (e.g. 100MB)"
    if t == "daily":
        return Rotation()
    for unit, key in (("min", "minutes"), ("mb", "megabytes")):
        digits = t.removesuffix(unit)
        if digits != t and digits.isdecimal():
            if int(digits) < 1:  # 0 would never rotate: one file for ever
                raise ParameterError(f"--rotate {text!r}: N must be at least 1; {usage}")
            return Rotation(daily=False, **{key: int(digits)})
    raise ParameterError(f"--rotate {text!r}: {usage}")


def check_record_config(
    flag: str | None, environ: Mapping[str, str] | None = None
) -> CheckedConfig:
    """The config to record with, its venue and credentials, checked (module docstring);
    ConfigValidationError listing every problem at once."""
    from mmtrio.cli.checkup import check_config
    from mmtrio.config.locations import resolve_config

    source = resolve_config(flag)  # as every command finds it (cli/common.py)
    return check_config(source.path, credentials=True, telegram=False, environ=environ)


def out_dir(text: str) -> Path:
    """--out as a directory the recorder can write, created now if missing; ParameterError
    (exit 2) naming the path and why otherwise."""
    from mmtrio.cli.common import made_dir
    from mmtrio.errors import ParameterError

    path = made_dir(Path(text).expanduser(), f"--out {text}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ParameterError(f"--out {text}: directory is not writable; choose another path")
    return path


def run(args: argparse.Namespace) -> int:
    import trio

    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.errors import MmtrioError

    try:
        checked = check_record_config(args.config)  # every problem at once, as `mmtrio run`
        rotation = parse_rotation(args.rotate)
        if args.duration is not None and args.duration <= 0:
            raise MmtrioError("--duration must be > 0 seconds")
        out = out_dir(args.out)  # before the venue is reached: a typo is exit 2, not a traceback
        summary = trio.run(_record, checked, out, rotation, args.duration)
    except MmtrioError as exc:
        print(f"mmtrio record: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"mmtrio record: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for f in summary["files"]:
            print(f)
        print(f"{summary['symbol']}: {event_words(summary['events'])}")
    if summary["dropped"]:
        print(
            f"mmtrio record: {summary['dropped']:,} event(s) dropped in "
            f"{summary['overflows']} overflow(s): writing fell behind the feed (a slow disk or "
            "a loaded machine); after each the book was resynced from a fresh snapshot, so the "
            "files hold a gap there that a replay counts and resyncs over",
            file=sys.stderr,
        )
    return EXIT_OK


# The recorder counts events by their type; a person reads the market's words (the JSON keeps
# the type names its readers already parse).
_WORDS: dict[str, tuple[str, str]] = {
    "BookSnapshot": ("book snapshot", "book snapshots"),
    "BookDelta": ("book update", "book updates"),
    "Trade": ("trade", "trades"),
    "BookTicker": ("best bid/ask quote", "best bid/ask quotes"),
    "MarkPrice": ("mark price", "mark prices"),
    "BookInvalid": ("book resync (no line written)", "book resyncs (no line written)"),
}


def event_words(counts: Mapping[str, int]) -> str:
    """``{"BookDelta": 215, "Trade": 1}`` as ``215 book updates, 1 trade`` (book first)."""
    if not counts:
        return "no market data received"
    order = list(_WORDS)
    parts = []
    for name in sorted(counts, key=lambda n: (order.index(n) if n in order else len(order), n)):
        n = counts[name]
        one, many = _WORDS.get(name, (_plain(name),) * 2)
        parts.append(f"{n:,} {one if n == 1 else many}")
    return ", ".join(parts)


def _plain(name: str) -> str:
    """A type name not in the table, as words: ``FundingRate`` → ``funding rate events``."""
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
    return f"{words} events"


async def _record(
    checked: CheckedConfig, out: Path, rotation: Any, duration: float | None
) -> dict[str, Any]:
    import signal

    import trio

    from mmtrio.cli.paper import paper_venue
    from mmtrio.cli.venue import live_settings
    from mmtrio.venues.protocol import SessionHooks, VenueCredentials

    factory = checked.factory
    base_ns = time.time_ns()
    t0 = trio.current_time()

    def clock_ns() -> int:
        return base_ns + int((trio.current_time() - t0) * 1e9)

    async with _venue_session(checked, paper_venue, live_settings) as (settings, creds):
        hooks = SessionHooks(clock_ms=lambda: clock_ns() // 1_000_000)
        session = factory.open(settings, creds or VenueCredentials(), hooks)
        try:
            inst = await session.load_instrument()
            return await _run_feed(session, inst, out, rotation, duration, clock_ns, signal)
        finally:
            await session.aclose()
    raise AssertionError("unreachable")  # pragma: no cover


def _venue_session(checked: CheckedConfig, paper_venue: Any, live_settings: Any) -> Any:
    from contextlib import asynccontextmanager

    config = checked.config

    @asynccontextmanager
    async def ctx() -> Any:
        if config.venue.mode == "paper":
            async with paper_venue(config, dump=False) as paper:
                yield paper.settings, paper.credentials
        else:  # the credentials were read with the config's check
            yield live_settings(config, checked.factory), checked.credentials

    return ctx()


async def _run_feed(  # noqa: PLR0917 - one recording's parts
    session: Any,
    inst: Any,
    out: Path,
    rotation: Any,
    duration: float | None,
    clock_ns: Any,
    signal: Any,
) -> dict[str, Any]:
    import trio

    from mmtrio.data.record import Recorder, RotatingFiles
    from mmtrio.venues.binance.collector import CollectorEncoder

    feed = session.market_feed(inst)
    recorder = Recorder(CollectorEncoder(inst), clock_ns)
    recorder.on_overflow = lambda: feed.request_resync("recorder fell behind the feed")
    files = RotatingFiles(out, inst.symbol, rotation)

    async def flusher() -> None:
        while True:
            await trio.sleep(1.0)
            batch = recorder.take()
            if batch:
                await trio.to_thread.run_sync(files.write, batch)

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(feed.run, recorder)
            nursery.start_soon(flusher)

            async def stop_on_signal() -> None:
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(stop_on_signal)
            if duration is not None:
                await trio.sleep(duration)
                nursery.cancel_scope.cancel()
    with trio.CancelScope(shield=True):
        batch = recorder.take()
        await trio.to_thread.run_sync(files.write, batch)
        await trio.to_thread.run_sync(files.close)
    return {
        "symbol": inst.symbol,
        "files": [str(f) for f in files.files],
        "events": dict(sorted(recorder.counts.items())),
        "dropped": recorder.dropped_total,
        "overflows": recorder.overflows,
    }
