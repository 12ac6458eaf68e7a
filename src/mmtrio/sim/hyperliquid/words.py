"""Hyperliquid's words for the engine's refusals and the venue's other answers.

Texts from Hyperliquid's "Error responses" page and ccxt's exception table (the real venue's
strings, e.g. "Too many cumulative requests sent (…)"); where the documentation gives none
(the unknown asset, the scheduled-cancel refusals, the nonce refusals) the text is ours and
says so here. This module is the one place the front end's vocabulary lives.
"""

from __future__ import annotations

from mmtrio.exchange.matching import MatchingReject, Refusal

CANCEL_GONE = "Order was never placed, already canceled, or filled."
MODIFY_GONE = "Cannot modify canceled or filled order"
MIN_VALUE = "Order must have minimum value of $10."
TICK = "Price must be divisible by tick size."
# ours (undocumented cases):
UNKNOWN_ASSET = "Unknown asset {asset}."
DUPLICATE_CLOID = "Duplicate cloid {cloid}."
BAD_CLOID = "Invalid cloid {cloid}: 0x followed by 32 hex digits."
NONCE_DUPLICATE = "Invalid nonce: duplicate nonce {nonce}."
NONCE_TOO_LOW = "Invalid nonce: {nonce} is lower than the lowest of the last 100 nonces used."
NONCE_WINDOW = "Invalid nonce: {nonce} is outside (T - 2 days, T + 1 day) of the block time."
SCHEDULE_TOO_SOON = "Scheduled cancel time must be at least 5 seconds in the future."
SCHEDULE_LIMIT = "Too many scheduled cancel triggers today: at most 10 per day (00:00 UTC)."
EXPIRED = "Action expired: expiresAfter {expires} is in the past."
BAD_SIGNER = "User or API Wallet {address} does not exist."
BAD_JSON = "Failed to deserialize the JSON body into the target type"
BAD_LEVERAGE = "Invalid leverage {leverage}: a whole number from 1 to {most}."
ISOLATED_UNSUPPORTED = "Isolated margin is not available on this simulated venue: cross only."


def refusal_text(exc: MatchingReject, bbo: tuple[str, str]) -> str:
    """The venue's text for an engine refusal (``bbo``: the best bid and ask, for BadAloPx)."""
    r = exc.refusal
    if r is Refusal.WOULD_TAKE:
        return f"Post only order would have immediately matched, bbo was {bbo[0]}@{bbo[1]}."
    if r in (Refusal.UNKNOWN_ORDER, Refusal.NO_SUCH_ORDER):
        return CANCEL_GONE
    if r is Refusal.NOTIONAL_BELOW_MIN:
        return MIN_VALUE
    if r is Refusal.REDUCE_ONLY:
        return "Reduce only order would increase position."
    if r is Refusal.INSUFFICIENT_MARGIN:
        return "Insufficient margin to place order."
    if r is Refusal.PRICE_OFF_GRID:
        return TICK
    if r in (Refusal.PRICE_BELOW_MIN, Refusal.PRICE_ABOVE_MAX):
        return "Order price cannot be more than 80% away from the reference price"
    if r in (Refusal.QTY_BELOW_MIN, Refusal.QTY_ABOVE_MAX):
        return "Order has invalid size."
    return "Duplicate cloid."  # DUPLICATE_CLIENT_ID, the last refusal the engine has


def rate_text(used: int, cap: int, volume: str) -> str:
    """The address budget's refusal (the real text, ccxt's exception table)."""
    return (
        f"Too many cumulative requests sent ({used} > {cap}) for cumulative volume traded "
        f"${volume}. Place taker orders to free up 1 request per USDC traded."
    )
