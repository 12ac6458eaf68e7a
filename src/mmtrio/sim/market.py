"""What a simulated market feeds the venue: messages with wire payloads and core events.

A driver (recorded replay or synthetic) yields ``MarketMessage``s in time order; the sim
server serves ``payload`` on its streams (combined-stream ``data`` objects) and feeds
``event`` to the matching engine. Both describe the same message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from mmtrio.core.events import BookSnapshot, MarketData
from mmtrio.core.instruments import Instrument

STREAMS = ("depth", "trade", "bookTicker", "markPrice")


@dataclass(frozen=True, slots=True)
class MarketMessage:
    ts: int  # exchange time ms (E) of the message, re-based as the driver documents
    stream: str  # "depth" | "trade" | "bookTicker" | "markPrice"
    payload: dict[str, Any]  # Binance wire JSON ("data" part), E/T/U/u/pu already adjusted
    event: MarketData  # the same message as a core event


class MarketDriver(Protocol):
    """A source of market messages for one instrument."""

    instrument: Instrument

    def initial_snapshot(self) -> BookSnapshot:
        """The book at the driver's start; the first depth message continues from it."""
        ...

    def __iter__(self) -> Iterator[MarketMessage]:
        """Messages in non-decreasing ``ts``; endless or finite depending on the driver."""
        ...


def apply_levels(book: dict[int, int], levels: tuple[tuple[int, int], ...]) -> None:
    """Apply absolute level sizes of a diff to one side (size 0 deletes)."""
    for price, qty in levels:
        if qty > 0:
            book[price] = qty
        else:
            book.pop(price, None)


def diff_to(current: dict[int, int], target: dict[int, int]) -> tuple[tuple[int, int], ...]:
    """Levels that turn ``current`` into ``target`` (deletions as size 0), sorted by price."""
    out = [(p, 0) for p in current if p not in target]
    out.extend((p, q) for p, q in target.items() if current.get(p) != q)
    out.sort()
    return tuple(out)
