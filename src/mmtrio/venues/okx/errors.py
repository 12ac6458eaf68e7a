"""OKX error codes → the neutral venue errors and reject kinds: the one place they are read.

OKX answers most business errors with HTTP 200 and a ``code`` in the body (``"0"`` is
success). Order endpoints (REST and WebSocket ops) carry one result per order in ``data``:
``sCode``/``sMsg`` (``"0"`` = that order succeeded), with the envelope ``code`` ``"1"`` (all
failed) or ``"2"`` (a batch partly failed). Rate limits answer HTTP 429 with code ``50011``;
authentication failures HTTP 401 with a 501xx code. WebSocket requests fail with 60xxx
codes in an ``{"event": "error"}`` message or the op's ``code``.

The codes and their meanings are OKX's v5 error-code list (as ccxt's ``okx`` class and the
official SDK read it). The question order entry needs answered is the same as on every
venue: did OKX certainly NOT act (*definite*, a reject with a kind), or might it have
(*unknown*: resolve by querying the ``clOrdId``)? ``50004`` ("endpoint request timeout, does
not indicate success or failure of order") and the system-busy family are unknown, like any
5xx; a code no mapping knows is a definite reject of kind UNKNOWN.

A post-only order that would take liquidity is *not* rejected by OKX: it is accepted
(``sCode`` 0) and then cancelled at once with ``cancelSource`` 31 (the codec reports that as
EXPIRED). An *amend* that would make a post-only order take is refused with ``51511``.
"""

from __future__ import annotations

from mmtrio.core.rejects import RejectKind
from mmtrio.errors import (
    AuthError,
    ClockSkewError,
    OutcomeUnknownError,
    RateLimited,
    VenueError,
)

__all__ = [
    "CODE_NO_SUCH_ORDER",
    "KIND_OF_CODE",
    "RATE_LIMIT_RETRY_S",
    "RATE_WINDOW_S",
    "auth_fix",
    "classify",
    "kind_of",
    "rate_limit_wait_s",
]

CODE_OK = "0"
CODE_RATE_LIMITED = "50011"
CODE_TIMESTAMP_EXPIRED = "50102"
CODE_NO_SUCH_ORDER = "51603"  # GET /api/v5/trade/order: "Order does not exist"
CODE_WRONG_PASSPHRASE_REST = "50105"
CODE_WRONG_PASSPHRASE_WS = "60024"
CODE_ENVIRONMENT = "50101"  # the key belongs to the other environment (demo vs live)

# OKX's limits are counted per 2 s (or per 1 s for cancel-all-after) and OKX sends no
# Retry-After: a rate-limit answer blocks for one whole window, its endpoint's.
RATE_LIMIT_RETRY_S = 2.0
RATE_WINDOW_S: dict[str, float] = {"/api/v5/trade/cancel-all-after": 1.0}


def rate_limit_wait_s(path: str = "") -> float:
    """How long a rate-limit answer on ``path`` holds it: its endpoint's window (1 s for
    cancel-all-after, whose refresh a 2 s wait kept a second longer from the venue: chaos
    seed 33231), else 2 s."""
    return RATE_WINDOW_S.get(path, RATE_LIMIT_RETRY_S)


# The venue itself says it does not know whether it acted, or is too busy to say.
UNKNOWN_CODES: frozenset[str] = frozenset(
    {
        "50001",  # service temporarily unavailable
        "50004",  # endpoint request timeout (does not indicate success or failure)
        "50013",  # system is busy
        "50026",  # system error
        "63999",  # WebSocket: internal system error
    }
)
RATE_CODES: frozenset[str] = frozenset({"50011", "50061", "51113", "60014"})

_AUTH_CODES = (
    "50100",  # API frozen
    "50101",  # APIKey does not match the current environment (demo vs live)
    "50103",  # OK-ACCESS-KEY empty
    "50104",  # OK-ACCESS-PASSPHRASE empty
    "50105",  # OK-ACCESS-PASSPHRASE incorrect
    "50106",  # OK-ACCESS-SIGN empty
    "50107",  # OK-ACCESS-TIMESTAMP empty
    "50110",  # invalid IP
    "50111",  # invalid OK-ACCESS-KEY
    "50113",  # invalid signature
    "50114",  # invalid authorization
    "60001",  # WebSocket: key empty
    "60002",  # sign empty
    "60003",  # passphrase empty
    "60005",  # invalid key
    "60007",  # invalid sign
    "60009",  # login failed
    "60011",  # please log in
    "60024",  # wrong passphrase
    "60032",  # API key does not exist
)

# OKX code → what it means for the strategy. A code not listed is RejectKind.UNKNOWN: the
# runtime logs it once with the raw code and the strategy backs that slot off.
KIND_OF_CODE: dict[str, RejectKind] = {
    **dict.fromkeys(_AUTH_CODES, RejectKind.AUTH),
    **dict.fromkeys(RATE_CODES, RejectKind.RATE_LIMITED),
    # the order is gone (or never was)
    "51400": RejectKind.UNKNOWN_ORDER,  # cancel: order does not exist
    "51401": RejectKind.UNKNOWN_ORDER,  # cancel: already canceled
    "51402": RejectKind.UNKNOWN_ORDER,  # cancel: already completed
    "51503": RejectKind.UNKNOWN_ORDER,  # amend: order does not exist
    "51509": RejectKind.UNKNOWN_ORDER,  # amend: order has been canceled
    "51510": RejectKind.UNKNOWN_ORDER,  # amend: order has been completed
    "51603": RejectKind.UNKNOWN_ORDER,  # query: order does not exist
    # post-only
    "51511": RejectKind.WOULD_CROSS,  # amend: the new price would take (post-only)
    # margin
    "51008": RejectKind.INSUFFICIENT_MARGIN,  # insufficient balance or margin
    "51119": RejectKind.INSUFFICIENT_MARGIN,  # insufficient balance
    "51127": RejectKind.INSUFFICIENT_MARGIN,  # available balance is 0
    "51131": RejectKind.INSUFFICIENT_MARGIN,  # insufficient balance
    "51502": RejectKind.INSUFFICIENT_MARGIN,  # amend: insufficient margin or balance
    # price
    "51006": RejectKind.INVALID_PRICE,  # order price out of the limit (price band)
    "51116": RejectKind.INVALID_PRICE,  # order price or trigger price exceeds {0}
    "51122": RejectKind.INVALID_PRICE,  # order price should be higher than the min price
    "51135": RejectKind.INVALID_PRICE,  # closing price triggered the limit price (buy)
    "51136": RejectKind.INVALID_PRICE,  # closing price triggered the limit price (sell)
    "51137": RejectKind.INVALID_PRICE,  # opening price triggered the limit price (buy)
    "51138": RejectKind.INVALID_PRICE,  # opening price triggered the limit price (sell)
    # size
    "51004": RejectKind.INVALID_SIZE,  # order amount exceeds the current tier limit
    "51005": RejectKind.INVALID_SIZE,  # order amount exceeds the limit
    "51007": RejectKind.INVALID_SIZE,  # order amount should be at least 1 contract
    "51020": RejectKind.INVALID_SIZE,  # order amount below the minimum
    "51100": RejectKind.INVALID_SIZE,  # amount does not meet the min tradable amount
    "51105": RejectKind.INVALID_SIZE,  # exceeds the max order amount of the contract
    "51120": RejectKind.INVALID_SIZE,  # order quantity is less than {0}
    "51121": RejectKind.INVALID_SIZE,  # order count should be a multiple of the lot size
    # reduce-only
    "51205": RejectKind.REDUCE_ONLY,  # reduce-only is not available
}


def kind_of(code: str | None) -> RejectKind:
    """The neutral kind of an OKX code (UNKNOWN when no mapping knows it)."""
    if code is None:
        return RejectKind.UNKNOWN
    return KIND_OF_CODE.get(code, RejectKind.UNKNOWN)


def auth_fix(code: str, mode: str) -> str:
    """What the operator should do about an authentication failure with ``code``."""
    if code in (CODE_WRONG_PASSPHRASE_REST, CODE_WRONG_PASSPHRASE_WS, "50104", "60003"):
        return (
            "the API passphrase is wrong: set the passphrase chosen when the key was created "
            "(MMTRIO_PASSPHRASE or venue.passphrase_file)"
        )
    if code == CODE_ENVIRONMENT:
        other = "live" if mode == "testnet" else "demo (testnet)"
        return (
            f"this API key belongs to OKX's {other} environment but venue.mode = {mode!r}: "
            "use a key created for this mode"
        )
    if code in ("50110",):
        return "this machine's IP is not on the API key's allow list"
    return (
        "check the API key, secret and passphrase (MMTRIO_API_KEY / MMTRIO_API_SECRET / "
        "MMTRIO_PASSPHRASE or the venue.*_file settings) and the key's trade permission"
    )


def classify(
    status: int,
    code: str | None,
    msg: str,
    *,
    mode: str = "live",
    source: str = "",
    path: str = "",
) -> VenueError:
    """Map an OKX error answer (HTTP status, body ``code`` or per-order ``sCode``, message;
    ``path``: the REST endpoint, whose window a rate limit waits out).

    Order of rules: rate limits first (429, 50011…), then unknown outcomes (5xx, 408 and the
    codes OKX marks unknown), then the timestamp window, then authentication (401 or an auth
    code, with the fix named), then every other code is a definite reject of its kind.
    """
    text = code or ""
    said = msg or (f"HTTP {status}" if status else "error")
    if status == 429 or text in RATE_CODES:
        return RateLimited(said, code=text, status=status, retry_after_s=rate_limit_wait_s(path))
    if status >= 500 or status == 408 or text in UNKNOWN_CODES:
        return OutcomeUnknownError(said, code=text, status=status)
    if text == CODE_TIMESTAMP_EXPIRED:
        return ClockSkewError(said, code=text, status=status)
    kind = kind_of(code)
    if kind is RejectKind.AUTH or status == 401:
        return AuthError(f"{said}; {auth_fix(text, mode)}", code=text, status=status, source=source)
    return VenueError(said, kind=kind, code=text, status=status, definite=True)
