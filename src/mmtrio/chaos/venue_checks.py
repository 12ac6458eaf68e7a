"""Invariants 3, 8, 9 and 12 (pure), read from the venue's own records alone: exposure within
the limit at every accept (3), never a 418 (8), no post-only order filled as taker (9), the
bot quoted at all (12).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mmtrio.chaos.evidence import ProcessRecord, Violation


# 3 -------------------------------------------------------------------------------------------
def check_exposure(checks: Iterable[Mapping[str, Any]], limit_lots: int) -> list[Violation]:
    """At every accept, worst-case |position + open orders| stays within the configured limit."""
    for c in checks:
        if int(c["worst_lots"]) > limit_lots:
            return [
                Violation(
                    3,
                    None,
                    f"exposure breach at accept of {c['client_id']}: worst case {c['worst_lots']} "
                    f"lots (position {c['position_lots']}, open buy {c['open_buy_lots']}, open "
                    f"sell {c['open_sell_lots']}) > limit {limit_lots}",
                )
            ]
    return []


# 8 -------------------------------------------------------------------------------------------
def check_rate_limits(rate_limits: Mapping[str, Any]) -> list[Violation]:
    """Never a 418: the sim answers 418 to any request sent before a Retry-After expired."""
    bans = [e for e in rate_limits.get("events", ()) if int(e.get("status", 0)) == 418]
    if bans or int(rate_limits.get("http_418", 0)) > 0:
        first = bans[0] if bans else {}
        return [
            Violation(
                8,
                first.get("wall_ms"),
                f"the venue answered 418 ({rate_limits.get('http_418', len(bans))} times): "
                "a request "
                f"was sent before Retry-After expired: {first.get('reason', '')}",
            )
        ]
    return []


# 9 -------------------------------------------------------------------------------------------
def check_post_only(
    orders: Iterable[Mapping[str, Any]], fills: Iterable[Mapping[str, Any]]
) -> list[Violation]:
    """No post-only order ever executes as taker (the sim's ground truth is neutral:
    ``client_id``/``time_in_force`` = ``POST_ONLY``; the ``clientOrderId``/``timeInForce``
    keys and ``GTX`` of dumps written by earlier versions are still read)."""
    post_only = {
        o.get("client_id", o.get("clientOrderId"))
        for o in orders
        if o.get("time_in_force", o.get("timeInForce")) in ("POST_ONLY", "GTX")
    }
    for f in fills:
        if f.get("client_id") in post_only and not f.get("is_maker", True):
            return [
                Violation(
                    9,
                    None,
                    f"post-only order {f['client_id']} filled as taker (trade {f['trade_id']})",
                )
            ]
    return []


# 12 ------------------------------------------------------------------------------------------
# Bot time below which a run proves nothing about quoting: a start-up (instrument, account,
# reconciliation, the dead-man armed, the strategy's warm-up) takes a few seconds, and a run
# whose bots are killed over and over may never get past it.
MIN_UP_MS = 20_000


def check_quoted(
    orders: Iterable[Mapping[str, Any]],
    foreign_ids: frozenset[str],
    processes: Sequence[ProcessRecord],
    end_ms: int,
) -> list[Violation]:
    """The bot quoted: in a run whose bot processes were up for at least :data:`MIN_UP_MS` in
    all, the venue recorded at least one order of the bot's (the harness's foreign orders
    aside). Every other invariant holds for a bot that never sends an order: without this
    one, a bot that stopped quoting would pass every campaign."""
    up_ms = sum(max(0, (end_ms if p.end_ms is None else p.end_ms) - p.start_ms) for p in processes)
    if up_ms < MIN_UP_MS:
        return []
    ours = [o for o in orders if o.get("client_id", o.get("clientOrderId")) not in foreign_ids]
    if ours:
        return []
    return [
        Violation(
            12,
            None,
            f"the venue recorded no order of the bot's in {up_ms / 1000:g} s of bot time "
            f"({len(processes)} process(es)): it never quoted",
        )
    ]
