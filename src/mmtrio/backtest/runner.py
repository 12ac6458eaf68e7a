"""Running a backtest: recorded market data, the live ``MarketMaker``, the venue's matching.

``run_backtest(source, config, settings)`` picks the replay core (``settings.engine``):

- ``compiled`` (:mod:`mmtrio.backtest.compiled`): numba over an event store's memory-mapped
  arrays; a source that is not a store (a raw recording read through the venue's reader) is
  converted into a temporary store first (the CLI keeps converted stores by content hash, so
  it converts once);
- ``python`` (:mod:`mmtrio.backtest.python_engine`): the reference;
- ``auto``: compiled when numba is installed, else python.

Both drive the same strategy at the same decision points (:mod:`mmtrio.backtest.decisions`),
with the same venue rules (:mod:`mmtrio.backtest.venue_side`); the compiled core must give the
same fills and P&L as the reference, to the lot.

The report records are the venue's truth: the engine's fills, mid samples of the engine's
market book every ``mid_sample_ms`` and at every fill, the funding settled, and the order
messages sent. They feed :func:`mmtrio.reporting.pnl.compute_report` unchanged.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

from mmtrio.backtest.feed import Source
from mmtrio.backtest.settings import BacktestResult, BacktestSettings
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.data.source import StoreSource
from mmtrio.errors import ParameterError

__all__ = ["BacktestResult", "BacktestSettings", "compiled_available", "run_backtest"]


def compiled_available() -> bool:
    """True when the compiled core can run (numba is installed)."""
    return importlib.util.find_spec("numba") is not None


def engine_for(settings: BacktestSettings) -> str:
    """The engine a run will use: ``compiled`` or ``python``."""
    if settings.engine == "auto":
        return "compiled" if compiled_available() else "python"
    if settings.engine == "compiled" and not compiled_available():
        raise ParameterError(
            "the compiled backtest engine needs numba: pip install 'mmtrio[fast]' "
            "(or run with --engine-core python, the reference engine)"
        )
    return settings.engine


def run_backtest(
    source: Source, config: StrategyConfig, settings: BacktestSettings | None = None
) -> BacktestResult:
    """Replay ``source`` (one continuous recording, as neutral events, or an event store)
    through the strategy; deterministic per seed."""
    settings = settings or BacktestSettings()
    if engine_for(settings) == "python":
        from mmtrio.backtest.python_engine import run_python

        return run_python(source, config, settings)
    from mmtrio.backtest.compiled.engine import run_compiled

    if isinstance(source, StoreSource):
        return run_compiled(Path(source.path), config, settings)
    from mmtrio.data.convert import write_store

    with tempfile.TemporaryDirectory(prefix="mmtrio-bt-") as tmp:
        store = write_store(
            source(), Path(tmp) / "store", config.instrument, {"kind": "backtest-source"}
        )
        return run_compiled(store, config, settings)
