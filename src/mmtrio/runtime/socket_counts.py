"""The order socket's counts since the bot started, for every surface that shows them.

A session's order socket (:class:`~mmtrio.venues.protocol.OrderSocket`) counts its own
sessions and requests from zero, and a new socket object (the next session's, e.g.
Hyperliquid's user stream made again) starts from zero once more. The screen, the metrics
(``ws="orders"``, exported as counters) and `mmtrio status` all read the totals through one
:class:`OrderSocketCounts`, so they agree and never go backwards: counts that fall are a new
socket object, and the old one's last counts are carried on.
"""

from __future__ import annotations

from mmtrio.venues.protocol import SocketHealth


class OrderSocketCounts:
    """Monotonic totals over every order-socket object seen (module docstring)."""

    def __init__(self) -> None:
        self._seen = (0, 0)  # the current socket object's last (sessions, requests)
        self._carried = (0, 0)  # the counts of earlier socket objects

    def total(self, health: SocketHealth) -> SocketHealth:
        """``health`` with its counts made totals since start (call it on every reading)."""
        now = (health.sessions, health.requests)
        seen = self._seen
        if now[0] < seen[0] or now[1] < seen[1]:
            # Counted from zero again: another socket object (the next session's).
            self._carried = (self._carried[0] + seen[0], self._carried[1] + seen[1])
        self._seen = now
        return SocketHealth(health.connected, self._carried[0] + now[0], self._carried[1] + now[1])


__all__ = ["OrderSocketCounts"]
