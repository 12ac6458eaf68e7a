"""Market data at rest: convert recordings to event stores, import and export other formats.

  mmtrio data convert a.gz[,b.gz] [...]    one event store per recording (content-hash keyed)
  mmtrio data verify STORE                 every block's CRC-32 and structure
  mmtrio data import-tardis BOOK.csv.gz TRADES.csv.gz [--tick T --lot L] [--force]
  mmtrio data import-hftbacktest FILE.npz [--symbol S --tick T --lot L] [--force]
  mmtrio data export-hftbacktest (STORE | a.gz[,b.gz]) --out FILE.npz

An event store is a directory of memory-mapped numpy arrays (docs in mmtrio.data.layout): the
backtester and the simulated venue read it without parsing. Stores live under --store-dir,
else $MMTRIO_STORE_DIR, else the user cache directory, named by the SHA-256 of the input
files, so a store is never stale and converting or importing twice does nothing the second
time (``"converted_now": false``; --force does it again). Every command prints the store's
path on stdout (or a JSON document with --json), so ``$(mmtrio data convert ...)`` is the
path; without --json a one-line summary for a person goes to stderr (what was done, the
symbol, the messages, the time span).
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

NAME = "data"
HELP = "convert recordings to event stores; import Tardis/hftbacktest data; export to hftbacktest"
EPILOG = """\
examples:
  # data/binance-usdm/... paths: from the root of a checkout of mmtrio (an installed
  # package ships one sample, python -c 'import mmtrio.packaged as p; print(p.SAMPLE_RECORDING)')
  mmtrio data convert data/binance-usdm/btcusdt_20240808.gz
  mmtrio data convert data/binance-usdm/btcusdt_20230404.dat.gz,\
data/binance-usdm/btcusdt_20230405.dat.gz
  mmtrio data import-tardis binance-futures_incremental_book_L2_2024-08-08_BTCUSDT.csv.gz \\
      binance-futures_trades_2024-08-08_BTCUSDT.csv.gz
  mmtrio data export-hftbacktest data/binance-usdm/btcusdt_20240808.gz --out btc.npz
  mmtrio backtest --data "$(mmtrio data convert data/binance-usdm/ethusdt_20240808.gz)"

exit codes: 0 done; 1 the output could not be written (a full disk; the --out directory is
checked before any work, and a missing or read-only one is exit 2); 2 bad arguments or data
(a corrupt file is named with its offset)
"""


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    conv = sub.add_parser("convert", help="recordings → event stores (one per argument)")
    conv.add_argument("recordings", nargs="+", metavar="FILES", help="a.gz[,b.gz] (one recording)")
    conv.add_argument("--force", action="store_true", help="convert again even if the store exists")
    ver = sub.add_parser("verify", help="check every block of a store")
    ver.add_argument("store", metavar="STORE")
    tar = sub.add_parser("import-tardis", help="Tardis incremental_book_L2 + trades CSV → store")
    tar.add_argument("files", nargs="+", metavar="CSV")
    tar.add_argument("--tick", help="price step (default: inferred from the data)")
    tar.add_argument("--lot", help="size step (default: inferred from the data)")
    tar.add_argument("--force", action="store_true", help="import again even if the store exists")
    hbi = sub.add_parser("import-hftbacktest", help="hftbacktest .npz → store")
    hbi.add_argument("file", metavar="NPZ")
    hbi.add_argument("--symbol", help="the symbol (an hftbacktest file does not say it)")
    hbi.add_argument("--tick", help="price step (default: the file's, else inferred)")
    hbi.add_argument("--lot", help="size step (default: the file's, else inferred)")
    hbi.add_argument(
        "--force",
        action="store_true",
        help="import again even if the store exists, and use --tick/--lot over the file's",
    )
    hbe = sub.add_parser("export-hftbacktest", help="store or recording → hftbacktest .npz")
    hbe.add_argument("data", metavar="STORE|FILES")
    hbe.add_argument("--out", required=True, metavar="NPZ")
    for p in (conv, ver, tar, hbi, hbe):
        p.add_argument("--store-dir", metavar="DIR", help="where stores live (see the doc)")
        p.add_argument("--json", action="store_true", help="print a JSON document")


def _dec(text: str | None, flag: str) -> Decimal | None:
    if text is None:
        return None
    from mmtrio.errors import ParameterError

    try:
        val = Decimal(text)
    except InvalidOperation:
        raise ParameterError(f"{flag} {text!r} is not a number") from None
    if not val.is_finite() or val <= 0:
        raise ParameterError(f"{flag} must be a positive number, got {text}")
    return val


def _describe(path: Path, made: bool | None = None) -> dict[str, Any]:
    from mmtrio.data.store import open_store

    st = open_store(path)
    doc: dict[str, Any] = {
        "store": str(path),
        "symbol": st.symbol,
        "rows": st.meta["rows"],
        "counts": st.meta["counts"],
        "first_ts": st.meta["first_ts"],
        "last_ts": st.meta["last_ts"],
        "source": st.meta["source"],
    }
    if made is not None:
        doc["converted_now"] = made
    return doc


def _out(docs: list[dict[str, Any]], as_json: bool, cmd: str) -> None:
    if as_json:
        print(json.dumps(docs if len(docs) > 1 else docs[0], indent=2))
    else:
        for d in docs:
            print(d.get("store") or d.get("out"))
            print(summary(cmd, d), file=sys.stderr)


def _utc(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(cmd: str, doc: dict[str, Any]) -> str:
    """One line saying what ``cmd`` did to the store ``doc`` describes (stdout keeps the path:
    scripts read it)."""
    st = _describe(Path(doc["store"])) if cmd == "export-hftbacktest" else doc
    what = f"{st['symbol']}, {st['rows']['messages']:,} messages"
    if st["first_ts"] is not None and st["last_ts"] is not None:  # None: no timed message
        first, last = _utc(st["first_ts"]), _utc(st["last_ts"])
        if first[:10] == last[:10]:
            last = last[11:]  # the same day: the time alone
        what += f", {first} .. {last}"
    if cmd == "verify":
        return f"verified: {what}, every block's CRC-32 and structure ok"
    if cmd == "export-hftbacktest":
        left = doc["events_not_exported"]
        tail = f"; {left:,} events left out (no hftbacktest form)" if left else ""
        return f"exported: {what} as {doc['rows']:,} hftbacktest rows to {doc['out']}{tail}"
    verb, again = ("converted", "convert") if cmd == "convert" else ("imported", "import")
    if doc["converted_now"]:
        return f"{verb}: {what}, into a new store"
    return f"already {verb}: {what}, the store was reused (--force to {again} again)"


def run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.cli.datasets import convert_raw, split_spec, store_root
    from mmtrio.errors import MmtrioError

    try:
        cmd = args.data_command
        docs: list[dict[str, Any]] = []
        # The store root is made (when named) only by a command that writes a store, and
        # after the command's own arguments are checked: a refused export leaves nothing.
        if cmd == "convert":
            root = store_root(args.store_dir)
            for spec in args.recordings:
                path, made = convert_raw(split_spec(spec), root, force=args.force)
                docs.append(_describe(path, made))
        elif cmd == "verify":
            from mmtrio.data.store import open_store

            store = open_store(Path(args.store))
            store.check_all()
            docs.append({**_describe(Path(args.store)), "verified": True})
        elif cmd == "import-tardis":
            docs.append(_import_tardis(args, store_root(args.store_dir)))
        elif cmd == "import-hftbacktest":
            docs.append(_import_hbt(args, store_root(args.store_dir)))
        else:
            docs.append(_export_hbt(args))
    except MmtrioError as exc:
        print(f"mmtrio data: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"mmtrio data: {exc}", file=sys.stderr)
        return EXIT_FAILED
    _out(docs, args.json, cmd)
    return EXIT_OK


def _import_tardis(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from mmtrio.cli.datasets import split_spec
    from mmtrio.data.convert import reusable, write_store
    from mmtrio.data.store import content_key
    from mmtrio.data.tardis import check_kinds, infer_instrument, read_tardis

    files = [f for spec in args.files for f in split_spec(spec)]
    check_kinds(files)
    inst = infer_instrument(files, _dec(args.tick, "--tick"), _dec(args.lot, "--lot"))
    final = root / content_key(files, f"tardis/{inst.tick_size}/{inst.lot_size}")
    if not args.force and reusable(final):
        return _describe(final, False)
    source = {"kind": "tardis", "files": [f.name for f in files]}
    path = write_store(read_tardis(files, inst), final, inst, source)
    return _describe(path, True)


def _import_hbt(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from mmtrio.data.convert import reusable, write_store
    from mmtrio.data.hftbacktest import npz_instrument, read_npz
    from mmtrio.data.store import content_key

    f = Path(args.file)
    tick, lot = _dec(args.tick, "--tick"), _dec(args.lot, "--lot")
    inst = npz_instrument(f, args.symbol, tick, lot, force=args.force)
    final = root / content_key([f], f"hftbacktest/{inst.symbol}/{inst.tick_size}/{inst.lot_size}")
    if not args.force and reusable(final):
        return _describe(final, False)
    path = write_store(read_npz(f, inst), final, inst, {"kind": "hftbacktest", "files": [f.name]})
    return _describe(path, True)


def _export_hbt(args: argparse.Namespace) -> dict[str, Any]:
    from mmtrio.cli.common import output_path
    from mmtrio.cli.datasets import resolve, store_root
    from mmtrio.data.hftbacktest import export_npz
    from mmtrio.data.store import open_store

    out = output_path(args.out, "--out")  # before any conversion: exit 2 naming the path
    rec = resolve(args.data, symbol=None, root=store_root(args.store_dir))
    if rec.store is None:  # pragma: no cover - resolve with a root always gives a store
        raise RuntimeError("no store")
    counts = export_npz(open_store(rec.store), out)
    return {"out": args.out, "store": str(rec.store), **counts}
