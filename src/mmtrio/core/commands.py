"""Commands: what the core asks execution to do. Prices in ticks, sizes in lots."""

from __future__ import annotations

from dataclasses import dataclass

from mmtrio.core.events import Side, TimeInForce
from mmtrio.core.frozen import fast_init


@fast_init
@dataclass(frozen=True, slots=True)
class PlaceOrder:
    client_id: str
    symbol: str
    side: Side
    price: int
    qty: int
    time_in_force: TimeInForce = TimeInForce.POST_ONLY
    reduce_only: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class AmendOrder:
    """Modify price and quantity (Binance requires both); the order loses queue priority."""

    client_id: str
    symbol: str
    side: Side
    price: int
    qty: int


@fast_init
@dataclass(frozen=True, slots=True)
class CancelOrder:
    client_id: str
    symbol: str


@fast_init
@dataclass(frozen=True, slots=True)
class CancelAll:
    symbol: str
    reason: str


@fast_init
@dataclass(frozen=True, slots=True)
class QueryOrder:
    """Ask the venue for an order by client id, to resolve an unknown outcome."""

    client_id: str
    symbol: str


Command = PlaceOrder | AmendOrder | CancelOrder | CancelAll | QueryOrder
