"""What a simulated market feeds the venue: neutral market events in time order.

A driver (recorded replay or synthetic) yields ``MarketMessage``s; the venue feeds each event
to the matching engine and the public book, and its protocol front end says it in its
venue's words. Book deltas carry the market's own sequence ids (``seq``/``prev_seq``/
``first_seq``): a front end re-publishes them, so a recording's real update ids reach clients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from mmtrio.core.events import (
    BookSnapshot,
    Event,
    MarketData,
)
from mmtrio.core.instruments import Instrument

EventSource = Callable[[], Iterable[Event]]
"""Opens a recording afresh (each call starts at its first line) and yields the neutral
events a venue's reader makes of it: ``BookSnapshot``, ``BookDelta`` (known continuous, the
venue's own ids in ``seq``/``prev_seq``/``first_seq``), ``BookInvalid`` on a gap, ``Trade``,
``BookTicker``, ``MarkPrice``. The replay driver takes one; the assembly wires a venue's."""


@dataclass(frozen=True, slots=True)
class MarketMessage:
    ts: int  # exchange time ms of the message, re-based as the driver documents
    event: MarketData


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
