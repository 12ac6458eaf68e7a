"""Extended's error codes and HTTP statuses → the neutral venue errors and reject kinds.

Extended answers an error as ``{"status": "ERROR", "error": {"code": …, "message": …}}``
with an HTTP status (the API documentation's "Error responses"; the SDK's
``ResponseErrorModel`` reads ``code`` as an integer, the documentation's examples also show
words such as ``"NOT_FOUND"``: both are accepted, kept as text). This module is the only
place that knows what ``1121`` means.

Order of rules: 429 → :class:`RateLimited`; 5xx and 408 → :class:`OutcomeUnknownError` (the
venue may have acted); 401/403 and the Stark key/signature/vault codes → :class:`AuthError`
(no retry helps: wrong key, wrong vault, or a signing bug); any other answer is a definite
rejection whose kind comes from :data:`KIND_OF_CODE`.

Statuses after acceptance (Extended is asynchronous: an order the REST API accepted may still
be rejected by the matching engine) arrive on the account stream with a ``statusReason``;
:data:`KIND_OF_REASON` maps those for the log.
"""

from __future__ import annotations

from mmtrio.core.rejects import RejectKind
from mmtrio.errors import AuthError, OutcomeUnknownError, RateLimited, VenueError, parse_retry_after

__all__ = [
    "CODE_DUPLICATE_ORDER",
    "CODE_EDIT_ORDER_NOT_FOUND",
    "CODE_INVALID_ORDER_PARAMETERS",
    "CODE_INVALID_SIGNATURE",
    "CODE_MARKET_NOT_FOUND",
    "CODE_NOT_FOUND",
    "CODE_QTY_STEP",
    "KIND_OF_CODE",
    "KIND_OF_REASON",
    "classify",
    "kind_of",
]

CODE_NOT_FOUND = "404"  # the generic "resource not found" (an order id we do not have)
CODE_MARKET_NOT_FOUND = "1001"
CODE_INVALID_PUBLIC_KEY = "1100"
CODE_INVALID_SIGNATURE = "1101"
CODE_INVALID_VAULT = "1102"
CODE_QTY_BELOW_MIN = "1120"
CODE_QTY_STEP = "1121"
CODE_PRICE_STEP = "1124"
CODE_INVALID_ORDER_PARAMETERS = "1133"
CODE_DUPLICATE_ORDER = "1134"
CODE_EDIT_ORDER_NOT_FOUND = "1142"

AUTH_CODES: frozenset[str] = frozenset(
    {CODE_INVALID_PUBLIC_KEY, CODE_INVALID_SIGNATURE, CODE_INVALID_VAULT, "1004", "1500"}
)

# Extended code → what it means for the strategy. A code not listed is RejectKind.UNKNOWN.
# Codes listed as UNKNOWN are known and named on purpose: no neutral kind fits them (an
# unknown or disabled market, a reused nonce), the strategy backs the slot off and the log
# carries the code.
KIND_OF_CODE: dict[str, RejectKind] = {
    "401": RejectKind.AUTH,
    "403": RejectKind.AUTH,
    "404": RejectKind.UNKNOWN_ORDER,
    "NOT_FOUND": RejectKind.UNKNOWN_ORDER,  # the documentation's word for 404
    "1004": RejectKind.AUTH,  # account not found
    "1500": RejectKind.AUTH,  # account not selected
    CODE_INVALID_PUBLIC_KEY: RejectKind.AUTH,
    CODE_INVALID_SIGNATURE: RejectKind.AUTH,
    CODE_INVALID_VAULT: RejectKind.AUTH,
    CODE_MARKET_NOT_FOUND: RejectKind.UNKNOWN,  # unknown market (a wrong venue.symbol)
    "1002": RejectKind.UNKNOWN,  # market disabled
    "1010": RejectKind.UNKNOWN,  # maintenance mode
    "1011": RejectKind.UNKNOWN,  # post-only mode (only post-only orders allowed)
    "1012": RejectKind.REDUCE_ONLY,  # reduce-only mode
    "1014": RejectKind.REDUCE_ONLY,  # market in reduce-only mode
    "1145": RejectKind.REDUCE_ONLY,  # non reduce-only orders not allowed
    CODE_QTY_BELOW_MIN: RejectKind.INVALID_SIZE,
    CODE_QTY_STEP: RejectKind.INVALID_SIZE,
    "1122": RejectKind.INVALID_SIZE,  # order value above the maximum
    "1123": RejectKind.INVALID_SIZE,  # quantity precision
    "1127": RejectKind.INVALID_SIZE,  # max position value exceeded
    CODE_PRICE_STEP: RejectKind.INVALID_PRICE,
    "1125": RejectKind.INVALID_PRICE,  # price precision
    "1130": RejectKind.INVALID_PRICE,  # order price missing
    "1141": RejectKind.INVALID_PRICE,  # invalid price value (outside the cap/floor band)
    "1126": RejectKind.RATE_LIMITED,  # max open orders per market (200): slow down
    "1128": RejectKind.UNKNOWN,  # trading fee below the account's (a stale fee rate)
    CODE_INVALID_ORDER_PARAMETERS: RejectKind.UNKNOWN,  # e.g. a nonce outside 1..2^31
    CODE_DUPLICATE_ORDER: RejectKind.UNKNOWN,  # a reused id or nonce
    "1135": RejectKind.UNKNOWN,  # expiration too far (90 days mainnet, 28 testnet)
    "1136": RejectKind.REDUCE_ONLY,
    "1137": RejectKind.REDUCE_ONLY,
    "1138": RejectKind.REDUCE_ONLY,
    "1140": RejectKind.INSUFFICIENT_MARGIN,  # order cost exceeds available balance
    "1147": RejectKind.INSUFFICIENT_MARGIN,  # open loss exceeds equity
    CODE_EDIT_ORDER_NOT_FOUND: RejectKind.UNKNOWN_ORDER,
}

# Account-stream ``statusReason`` of a REJECTED or CANCELLED order → its kind (for the log).
KIND_OF_REASON: dict[str, RejectKind] = {
    "POST_ONLY_FAILED": RejectKind.WOULD_CROSS,
    "NOT_ENOUGH_FUNDS": RejectKind.INSUFFICIENT_MARGIN,
    "INVALID_QTY": RejectKind.INVALID_SIZE,
    "INVALID_VALUE": RejectKind.INVALID_SIZE,
    "INVALID_PRICE": RejectKind.INVALID_PRICE,
    "REDUCE_ONLY_FAILED": RejectKind.REDUCE_ONLY,
    "REDUCE_ONLY_MODE": RejectKind.REDUCE_ONLY,
    "PREV_ORDER_NOT_FOUND": RejectKind.UNKNOWN_ORDER,
    "UNKNOWN_ACCOUNT": RejectKind.AUTH,
}


def code_text(code: object) -> str:
    """An error code as text (integers and words alike); "" when absent."""
    if code is None or isinstance(code, bool):
        return ""
    if isinstance(code, int | str):
        return str(code)
    return ""


def kind_of(code: str) -> RejectKind:
    """The neutral kind of an Extended code (UNKNOWN when no mapping knows it)."""
    return KIND_OF_CODE.get(code, RejectKind.UNKNOWN)


def classify(status: int, code: str, msg: str, retry_after: str | None = None) -> VenueError:
    """Map an error answer (HTTP status, Extended ``code`` as text, message) to an error."""
    text = msg or f"HTTP {status}"
    if status == 429:
        return RateLimited(
            text, code=code, status=status, retry_after_s=parse_retry_after(retry_after)
        )
    if status >= 500 or status == 408:
        return OutcomeUnknownError(text, code=code, status=status)
    if status in (401, 403) or code in AUTH_CODES:
        return AuthError(text, code=code, status=status)
    kind = kind_of(code) if code else kind_of(str(status))
    return VenueError(text, kind=kind, code=code or str(status), status=status, definite=True)
