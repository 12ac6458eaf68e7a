"""Query parameters of the Extended REST API: one value, the ``market`` filter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmtrio.sim.extended.words import ApiError

if TYPE_CHECKING:
    from mmtrio.sim.extended.frontend import ExtendedFrontEnd

Query = dict[str, list[str]]


def one(query: Query, key: str) -> str | None:
    """The parameter's last value, or None when it is absent."""
    values = query.get(key)
    return values[-1] if values else None


def market_ok(front: ExtendedFrontEnd, query: Query, required: bool) -> None:
    """``market`` (repeatable) names only the sim's market: 1001 (404) otherwise."""
    wanted = query.get("market")
    if wanted is None:
        if required:
            raise ApiError(400, "market is required")
        return
    if any(m != front.symbol for m in wanted):
        raise ApiError(1001, f"Market not found: {', '.join(wanted)}", 404)


def bounded_int(query: Query, key: str, default: int, top: int) -> int:
    """A whole number 1..``top`` (``default`` when absent), or 400 naming the range."""
    raw = one(query, key)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= top:
        raise ApiError(400, f"{key} must be 1..{top}")
    return int(raw)
