"""Run a built-in simulated venue on loopback (paper trading, tests, chaos).

``--venue`` picks the protocol front end (default binance: Binance USD-M; the known names are
those of :mod:`mmtrio.sim.frontends`, and an unknown one is refused listing them). Prints the REST,
websocket and admin base URLs (with --json: one JSON line with ``venue``, ``rest``, ``ws``,
``admin``, ``symbol`` (as the venue names it), ``endpoints`` (the URLs its connector takes, by
name) and ``credentials``, the object holding what that venue's clients need: this is a paper
venue with fixed public test credentials unless you pass --api-key/--api-secret, and
--passphrase for OKX) and runs until Ctrl-C (exit 0). For scripts written before
``credentials`` existed, the line also carries ``api_key`` and ``api_secret`` at the top level.

Market data: --data FILE[,FILE] replays recordings (a comma list is one continuous
recording; or one event store directory from `mmtrio data convert`), looping forever;
default: the shipped data/binance-usdm/btcusdt_20240808.gz, found next to the package
(src/mmtrio/sim/data/ when installed with data) or at the repository root. The symbol and
its grid come from the data (``mmtrio.sim.paper``):
``ethusdt_….gz`` serves ETHUSDT with tick 0.01, and --symbol only checks it. --synthetic
generates a market from --seed instead, under --symbol (default BTCUSDT).

``--venue extended`` serves Extended's protocol (``/api/v1`` REST, its streams, Stark-signed
orders verified against the paper account's key) over the same data, re-expressed: the
shipped BTCUSDT recordings are Extended's market ``BTC-USD`` with the recording's grid; the
JSON line's credentials are a paper API key, a Stark key pair and the vault number.

The paper account starts with 100,000 USDT (``SimConfig``'s default), fees 2 / 5 bps.

``--venue hyperliquid`` serves Hyperliquid's protocol (``POST /info``, ``POST /exchange``,
the ``/ws`` websocket with subscriptions and the ``post`` method). No Hyperliquid recording
is shipped: its market data re-expresses the Binance recording in Hyperliquid's terms (the
coin name BTC, szDecimals from the recording's lot, 20-level ``l2Book`` snapshots on the
5-significant-figure grid, one per block that changed the book; funding hourly at the
recorded rate scaled to the hour). Every action's signature is verified by recovering its
signer, which must be the paper account's approved agent; ``--json`` prints that agent's
public paper key and the account address. Needs ``pip install 'mmtrio[hyperliquid]'``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

NAME = "sim"
HELP = "run a simulated venue (default Binance USD-M: REST + websocket + admin) on loopback"
DEFAULT_DATA = "btcusdt_20240808.gz"
EPILOG = """\
examples:
  # data/binance-usdm/... paths: from the root of a checkout of mmtrio (an installed
  # package ships one sample, python -c 'import mmtrio.packaged as p; print(p.SAMPLE_RECORDING)')
  mmtrio sim                                   # shipped BTCUSDT recording, real time
  mmtrio sim --data data/binance-usdm/ethusdt_20240808.gz   # ETHUSDT, grid from the data
  mmtrio sim --speed 10 --port 8080 --json     # URLs (and paper keys) as one JSON line
  mmtrio sim --synthetic --seed 7 --dump truth.json
  mmtrio sim --latency-ms 20                   # 20 ms each way: orders and data arrive later
  mmtrio sim --api-key K --api-secret S        # accept only these credentials
  mmtrio sim --venue extended --json           # Extended's protocol: the shipped BTCUSDT
                                               # recording re-expressed as market BTC-USD;
                                               # paper API key, Stark key pair, vault id
  mmtrio sim --venue hyperliquid --json        # Hyperliquid's protocol over the Binance
                                               # recording re-expressed (coin BTC, 20-level
                                               # l2Book on 5 significant figures); prints the
                                               # paper agent key and account address
  mmtrio sim --venue okx --json                # the OKX v5 protocol (key, secret, passphrase)

venues (--venue):
  binance  Binance USD-M futures: /fapi REST, market streams, the user stream (listen key).
  okx      OKX v5 USDT perpetual swaps: /api/v5 REST, /ws/v5/public and /ws/v5/private
           (login, channels, order ops). OKX data is the shipped Binance recordings
           re-expressed in OKX's protocol: BTCUSDT is served as BTC-USDT-SWAP and ETHUSDT as
           ETH-USDT-SWAP, sizes in contracts (ctVal 0.01 BTC / 0.1 ETH; lotSz is the
           recording's step: 0.1 contracts for BTC), the books channel with the recording's
           real sequence ids as seqId/prevSeqId (checksum 0). Pass --passphrase with
           --api-key/--api-secret to choose its credentials.

exit codes: 0 stopped by Ctrl-C/SIGTERM; 2 bad arguments or data file
"""


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", help="recording file(s), comma-separated, or an event store (default: BTCUSDT)"
    )
    parser.add_argument(
        "--synthetic", action="store_true", help="synthetic market instead of a replay"
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="replay speed, × real time (default 1)"
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="one-way network latency, 0..5000 real ms, on every REST request, answer and "
        "websocket message (default 0)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="REST port (0 = any free port)")
    parser.add_argument("--ws-port", type=int, default=0, help="websocket port (0 = any free port)")
    parser.add_argument("--admin-port", type=int, default=0, help="admin port (0 = any free port)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic market")
    parser.add_argument(
        "--venue",
        default="binance",
        help="protocol front end to serve: binance (default), okx, hyperliquid or extended "
        "(Binance recordings re-expressed in the venue's terms; see the description)",
    )
    parser.add_argument(
        "--symbol",
        help="check that the recording holds this symbol; with --synthetic, the symbol to "
        "simulate (default BTCUSDT)",
    )
    parser.add_argument("--api-key", help="API key the sim accepts (default: fixed test key)")
    parser.add_argument(
        "--api-secret", help="API secret the sim accepts (default: fixed test secret)"
    )
    parser.add_argument(
        "--passphrase", help="API passphrase the sim accepts (okx; default: fixed test one)"
    )
    parser.add_argument("--json", action="store_true", help="print the URLs as one JSON line")
    parser.add_argument("--dump", help="write the ground truth JSON to this file on exit")


def default_data_path() -> Path:
    """The shipped recording: package data first, then the repository's data/ directory."""
    here = Path(__file__).resolve()
    candidates = [
        here.parents[1] / "sim" / "data" / DEFAULT_DATA,
        here.parents[3] / "data" / "binance-usdm" / DEFAULT_DATA,
        Path.cwd() / "data" / "binance-usdm" / DEFAULT_DATA,
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"the shipped recording {DEFAULT_DATA} was not found (looked in "
        f"{', '.join(str(p) for p in candidates)}); pass --data FILE or --synthetic"
    )


def run(args: argparse.Namespace) -> int:
    import trio

    from mmtrio.cli import EXIT_OK, EXIT_USAGE
    from mmtrio.errors import MmtrioError
    from mmtrio.sim.paper import PaperSpec, build_paper_venue
    from mmtrio.sim.server import SimUrls, serve_sim
    from mmtrio.sim.venue import SimConfig

    try:
        if (args.api_key is None) != (args.api_secret is None):
            raise MmtrioError("pass both --api-key and --api-secret, or neither")
        if args.synthetic and args.data:
            raise MmtrioError("pass --data or --synthetic, not both")
        given: dict[str, str] | None = (
            {"api_key": args.api_key, "api_secret": args.api_secret}
            if args.api_key is not None
            else None
        )
        if args.passphrase is not None:
            given = {**(given or {}), "passphrase": args.passphrase}
        paths: tuple[Path, ...] = ()
        if not args.synthetic:
            files = [p.strip() for p in args.data.split(",")] if args.data else []
            paths = tuple(Path(p) for p in files if p) or (default_data_path(),)
            from mmtrio.data.store import is_store

            for p in paths:
                # a recording's files, or one event store directory (mmtrio data convert)
                if not p.is_file() and not (len(paths) == 1 and is_store(p)):
                    raise MmtrioError(f"--data: no such file or event store {p}")
        spec = PaperSpec(
            data_files=paths,
            synthetic=args.synthetic,
            seed=args.seed,
            speed=args.speed,
            latency_ms=args.latency_ms,
            balance=SimConfig().initial_balance,
            credentials=given,
        )
        venue = build_paper_venue(args.venue, spec, args.symbol, "--symbol")
    except (MmtrioError, FileNotFoundError, OSError) as exc:
        print(f"mmtrio sim: {exc}", file=sys.stderr)
        return EXIT_USAGE
    front = venue.front
    instrument = venue.instrument
    creds = front.client_credentials()

    def announce(urls: SimUrls) -> None:
        if args.json:
            line: dict[str, object] = {
                "venue": args.venue,
                **urls.to_json(),
                "symbol": front.symbol,
                "endpoints": front.client_urls(urls.rest, urls.ws),
                "credentials": creds,
                # Kept for scripts that read the keys at the top level (chaos harness, tests).
                **{k: creds[k] for k in ("api_key", "api_secret") if k in creds},
            }
            print(json.dumps(line), flush=True)
        else:
            print(f"REST   {urls.rest}\nWS     {urls.ws}\nadmin  {urls.admin}", flush=True)
            print(
                f"venue {args.venue}  symbol {venue.front.symbol} (tick "
                f"{instrument.tick_size}, lot {instrument.lot_size})  paper credentials "
                + "  ".join(f"{k} {v}" for k, v in creds.items() if k != "api_secret"),
                flush=True,
            )

    async def stop_on_signal(scope: trio.CancelScope) -> None:
        # Ctrl-C / SIGTERM end the sim cleanly (exit 0), after the --dump below.
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                scope.cancel()
                return

    async def main() -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stop_on_signal, nursery.cancel_scope)
                urls = await nursery.start(
                    serve_sim, venue, args.host, args.port, args.ws_port, args.admin_port
                )
                announce(urls)
        finally:
            if args.dump:
                from mmtrio.sim.admin import dump_state

                with trio.CancelScope(shield=True):
                    await dump_state(venue, args.dump)

    trio.run(main)
    return EXIT_OK
