"""Recordings on the command line: ``--data`` values → event stores (converted once).

A ``--data`` value is one recording: an event store directory (``mmtrio data convert``
prints its path), or raw recording files separated by commas, in order (a continuous pair is
two files). Raw files are looked up by the content hash of their bytes under the store root
(``--store-dir``, else ``$MMTRIO_STORE_DIR``, else the user cache directory) and converted the
first time (said on stderr), so every later run memory-maps the store instead of parsing gzip
JSON again. ``--no-store`` reads raw files directly (the reference engine then parses them;
the compiled engine converts them into a temporary store).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from mmtrio.backtest.feed import Source
from mmtrio.core.instruments import Instrument
from mmtrio.errors import DataFileError, MmtrioError

# The converter's version is in the store's key: /2 replays a resync's snapshot after a gap
# (venues/binance/recording.py); a store the earlier reader converted is converted again.
RAW_KIND = "binance-collector/2"


@dataclass(frozen=True, slots=True)
class Recording:
    """One recording as the backtester takes it."""

    label: str
    files: tuple[Path, ...]
    instrument: Instrument
    source: Source
    store: Path | None


def store_root(flag: str | None) -> Path:
    """The store root: ``--store-dir``, else ``$MMTRIO_STORE_DIR``, else the user cache
    directory. One the user named is made now if missing, and a path that is a file or cannot
    be made is a ParameterError (exit 2) naming where it came from, before any conversion
    (it was an errno line and exit 1)."""
    from mmtrio.cli.common import made_dir
    from mmtrio.data.store import default_root

    env = os.environ.get("MMTRIO_STORE_DIR")
    root = Path(flag).expanduser() if flag else default_root()
    if not flag and not env:
        return root  # the cache directory: made when a store is first written
    named = f"--store-dir {flag}" if flag else f"$MMTRIO_STORE_DIR={env}"
    return made_dir(root, named)


def split_spec(spec: str) -> list[Path]:
    files = [Path(p.strip()) for p in spec.split(",") if p.strip()]
    if not files:
        raise MmtrioError("--data needs at least one recording file or store")
    for f in files:
        if not f.exists():
            raise DataFileError(f"recording file {f} not found")
    return files


def convert_raw(
    files: list[Path], root: Path, symbol: str | None = None, *, force: bool = False
) -> tuple[Path, bool]:
    """The store of raw recording ``files`` (converted now if it was not there)."""
    from mmtrio.data.convert import convert
    from mmtrio.venues.binance.recording import RecordingSource, scan_recording

    info = scan_recording(files, symbol=symbol)
    source = RecordingSource(tuple(files), info.instrument, book_ticker=True)
    return convert(files, root, info.instrument, source, RAW_KIND, force=force)


def resolve(spec: str, *, symbol: str | None, root: Path | None, quiet: bool = False) -> Recording:
    """One ``--data`` value (see the module doc); ``root`` None reads raw files directly."""
    from mmtrio.data.source import StoreSource
    from mmtrio.data.store import is_store, open_store

    files = split_spec(spec)
    if len(files) == 1 and files[0].is_dir():
        if not is_store(files[0]):
            raise DataFileError(f"{files[0]} is a directory but not an event store")
        store = open_store(files[0])
        if symbol is not None and symbol.upper() != store.symbol:
            raise DataFileError(
                f"--symbol {symbol} does not match the store, which holds {store.symbol} "
                f"({files[0]})"
            )
        return Recording(str(files[0]), (), store.instrument, StoreSource(files[0]), files[0])
    for f in files:
        if f.is_dir():
            raise DataFileError(f"{f}: pass a store directory alone, not among recording files")
    label = ",".join(f.name for f in files)
    if root is None:
        from mmtrio.venues.binance.recording import RecordingSource, scan_recording

        info = scan_recording(files, symbol=symbol)
        return Recording(
            label,
            tuple(files),
            info.instrument,
            RecordingSource(tuple(files), info.instrument),
            None,
        )
    path, made = convert_raw(files, root, symbol)
    if made and not quiet:
        print(f"converted {label} into the event store {path} (once)", file=sys.stderr)
    store = open_store(path)
    if symbol is not None and symbol.upper() != store.symbol:
        raise DataFileError(f"--symbol {symbol} does not match the recording ({store.symbol})")
    return Recording(label, tuple(files), store.instrument, StoreSource(path), path)
