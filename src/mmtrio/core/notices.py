"""What the strategy tells the outside world: notices (journal/log records) and its status.

Both are immutable records built by :class:`mmtrio.core.strategy.MarketMaker`; the runtime
writes notices to the journal and log and renders the status on the terminal and metrics.
Money is ``Decimal`` (exact, as the ledger keeps it); model numbers are floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mmtrio.core.events import Side
from mmtrio.core.frozen import fast_init
from mmtrio.core.ledger import LedgerSnapshot
from mmtrio.core.orders import OrderState
from mmtrio.core.risk import InventoryBand, TradingState

NoticeValue = str | int | float | bool | None

NOTICE_KINDS = frozenset(
    {
        "state_change",  # trading state moved (ACTIVE/REDUCING_ONLY/HALTED) and why
        "alert",  # something an operator must see (gap, feed down, refused order, kill switch)
        "fill",  # one of our fills was booked (once per venue trade id)
        "quote",  # a place or amend left (price, qty, slot)
        "cancel",  # a cancel left
        "mid_sample",  # periodic mid, for the journal and markouts
        "reject",  # a venue or local rejection of one of our requests
        "cannot_quote",  # quoting stopped, with the reason (emitted when the reason changes)
        "query",  # an unknown outcome is being resolved by a query
        "reconcile",  # a position or order adopted from the venue
        "config",  # a reconfiguration was applied
        "book_resync",  # our book check failed where the feed's did not: fetch a snapshot
        "risk_state",  # loss limits and kill switch to carry across a restart (journaled)
        "resume",  # an operator resume, accepted or refused, with its reason (journaled)
        "fatal",  # the bot must stop (e.g. the venue refused our credentials): the runtime stops
        "reconcile_request",  # the venue's view differs from ours: reconcile at once
        "defence",  # the markout/regime widening or the intensity-fit gate changed (why)
        "venue_cancel",  # the venue cancelled an order of ours we did not ask to cancel
    }
)


@fast_init
@dataclass(frozen=True, slots=True)
class Notice:
    """One record for the journal/log/status: ``kind`` (see NOTICE_KINDS), time, message, data."""

    kind: str
    ts: int
    message: str
    data: dict[str, NoticeValue]


@dataclass(frozen=True, slots=True)
class QuoteStatus:
    """One of our live quoting orders as the status screen shows it.

    ``queue_ahead_estimate`` is the displayed size at our price on our side of the local book
    less our own order's remaining size (the venue's book shows our order too); conservatively,
    all of the rest is assumed ahead of us. None when the level is not in the book.
    """

    side: Side
    level: int
    price: int
    qty: int
    client_id: str
    state: OrderState
    age_ms: int
    queue_ahead_estimate: int | None


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    """A frozen snapshot of everything the status screen and metrics show."""

    ts: int
    trading_state: TradingState
    reason: str
    band: InventoryBand
    position_lots: int
    entry_price: Decimal
    mid: float | None
    best_bid: int | None
    best_ask: int | None
    book_synced: bool
    book_age_ms: int | None
    quotes: tuple[QuoteStatus, ...]
    ledger: LedgerSnapshot
    drawdown: Decimal
    max_drawdown: Decimal
    sigma: float
    a: float
    k: float
    intensity_source: str
    sigma_source: str
    safety_ticks: int
    quote_to_trade: float
    cannot_quote: str  # '' while quoting
    last_fills: tuple[Notice, ...]
    alerts: tuple[Notice, ...]
    # The defence in force (core/defence.py): ticks added per side, the half-spread scale,
    # and its one-line reason ('defence idle' when nothing acts).
    defence_bid_ticks: int = 0
    defence_ask_ticks: int = 0
    regime_scale: float = 1.0
    defence: str = "defence idle"
