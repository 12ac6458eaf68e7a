"""What a backtest run is told (``BacktestSettings``) and what it produces (``BacktestResult``).

``engine`` picks the replay core:

- ``"compiled"``: book application, queue position, latency and matching in numba over an
  event store's memory-mapped arrays (:mod:`mmtrio.backtest.compiled`); needs the optional
  ``numba`` extra (``pip install 'mmtrio[fast]'``);
- ``"python"``: the reference engine (:mod:`mmtrio.backtest.python_engine`), the pure Python
  matching engine fed event by event, which the compiled core must agree with to the lot;
- ``"auto"`` (default): compiled when numba is installed, else python.

Both call the same live strategy at the same decision points (:mod:`mmtrio.backtest.decisions`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from mmtrio.backtest.feed import FeedLatency
from mmtrio.core.notices import Notice
from mmtrio.errors import ParameterError
from mmtrio.exchange.matching import FeeSchedule, QueueModel
from mmtrio.reporting.pnl import ReportInput
from mmtrio.reporting.timeline import Timeline

ENGINES = ("auto", "compiled", "python")


@dataclass(frozen=True, slots=True)
class BacktestSettings:
    """How the venue and the network are simulated (see :mod:`mmtrio.backtest.runner`)."""

    order_latency_ms: int = 5
    order_jitter_ms: float = 0.0
    user_latency_ms: int = 5
    feed_latency: FeedLatency = FeedLatency.RECORDED
    feed_base_ms: int = 0
    queue_model: QueueModel = QueueModel.PROBABILISTIC
    maker_fee_bps: Decimal = Decimal("2")
    taker_fee_bps: Decimal = Decimal("5")
    seed: int = 0
    mid_sample_ms: int = 100
    book_ticker: bool = False
    client_prefix: str = "bt"
    engine: str = "auto"

    def __post_init__(self) -> None:
        for name in ("order_latency_ms", "user_latency_ms", "feed_base_ms", "seed"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < 0:
                raise ParameterError(f"backtest {name} must be an integer >= 0, got {val!r}")
        if isinstance(self.mid_sample_ms, bool) or self.mid_sample_ms < 1:
            raise ParameterError(f"backtest mid_sample_ms must be >= 1, got {self.mid_sample_ms}")
        for name in ("maker_fee_bps", "taker_fee_bps"):
            val = getattr(self, name)
            if not isinstance(val, Decimal) or not val.is_finite() or abs(val) > 100:
                raise ParameterError(f"backtest {name} must be a Decimal in [-100, 100] bps")
        if self.engine not in ENGINES:
            raise ParameterError(
                f"backtest engine must be one of {', '.join(ENGINES)}, got {self.engine!r}"
            )

    @property
    def fees(self) -> FeeSchedule:
        return FeeSchedule(self.maker_fee_bps / 10_000, self.taker_fee_bps / 10_000)


@dataclass(slots=True)
class Restriction:
    """The strategy entered ``state`` (REDUCING_ONLY, HALTED) for one cause ``count`` times;
    ``reason`` and ``first_ts`` are the first time's (a kill switch latches: one is enough)."""

    state: str
    reason: str
    first_ts: int
    count: int


@dataclass(slots=True)
class BacktestResult:
    """What a run produced: the report's plain records plus run statistics."""

    report_input: ReportInput
    market_messages: int  # market events read
    events: int  # depth level updates + trades (hftbacktest's row count)
    strategy_steps: int  # decisions taken (MarketMaker.decide calls)
    commands: Counter[str]
    notices: Counter[str]
    alerts: list[Notice]
    strategy_position_lots: int
    venue_position_lots: int
    funding_payments: int
    first_ms: int
    last_ms: int
    rejects: Counter[str] = field(default_factory=Counter)
    book_gaps: int = 0  # continuity lost in the data (resynced from the next snapshot)
    strategy_applies: int = 0  # events handed to MarketMaker.apply
    engine: str = "python"
    compile_seconds: float = 0.0  # the compiled core's JIT compile or cache load, apart
    restrictions: list[Restriction] = field(default_factory=list)  # by cause, first first
    final_state: str = ""  # the trading state of the last decision
    timeline: Timeline | None = None  # our quotes and state changes (backtest.quote_log)
