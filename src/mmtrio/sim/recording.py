"""Re-export of :mod:`mmtrio.recordings` (the reader moved there so the backtester, which may
not import ``sim``, can share it). Kept so existing sim code and tests keep working."""

from __future__ import annotations

from mmtrio.recordings import (
    KIND_BY_STREAM,
    Converter,
    RawMessage,
    iter_file,
    local_ts_to_ns,
    parse_line,
)

__all__ = ["KIND_BY_STREAM", "Converter", "RawMessage", "iter_file", "local_ts_to_ns", "parse_line"]
