"""The simulated OKX account's leverage and fee rates (OKX v5 "Trading Account").

``POST /api/v5/account/set-leverage`` records the leverage of a margin mode (the account is
in net position mode, one leverage per mode for the one swap); ``positions``, the order
objects (``lever``) and ``GET /api/v5/account/leverage-info`` say it back. Checked as OKX
checks it: the body a JSON object (50002), ``instId`` present (50014) and the venue's swap
(51001; ``ccy`` alone sets a MARGIN currency's cross leverage, which this account has none of:
51000), ``mgnMode`` cross or isolated, ``posSide`` absent or ``net`` (net mode), ``lever``
a number of at most two decimals from 0.01 (51000 "Parameter lever error") up to the
instrument's ``lever`` of 100 (59102), and low enough a leverage must leave the open
position's initial margin (notional / leverage at the mark) within the equity (59103).
The sim's margin check on orders does not use the leverage: it is recorded and reported.

``GET /api/v5/account/trade-fee``: the sim's fee schedule (``SimConfig.fees``) in OKX's
signs (negative = a commission charged, positive = a rebate), for the USDT-margined
(``makerU``/``takerU``), USDC-margined and coin-margined (``maker``/``taker``) swaps alike.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mmtrio.sim.okx import words as w
from mmtrio.sim.okx.wire import OkxError

if TYPE_CHECKING:
    from mmtrio.sim.okx.frontend import OkxFrontEnd

MAX_LEVER = Decimal(100)  # /public/instruments "lever"
MIN_LEVER = Decimal("0.01")
MARGIN_MODES = ("cross", "isolated")
INST_TYPES = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")


def _lever(value: Any) -> Decimal:
    """``lever`` as sent: a string or a JSON number (ccxt sends an int)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise OkxError("51000", "Parameter lever error")
    try:
        lever = Decimal(str(value))
    except InvalidOperation:
        raise OkxError("51000", "Parameter lever error") from None
    if not lever.is_finite() or lever < MIN_LEVER or lever != lever.quantize(MIN_LEVER):
        raise OkxError("51000", "Parameter lever error")
    return lever


def check_swap(front: OkxFrontEnd, body: dict[str, Any]) -> None:
    """``instId`` present (50014) and the venue's swap (51001)."""
    inst_id = body.get("instId", "")
    if inst_id in ("", None):
        raise OkxError("50014", "Parameter instId can not be empty")
    if inst_id != front.symbol:
        raise OkxError("51001", "Instrument ID does not exist")


def check_margin_mode(body: dict[str, Any]) -> str:
    """``mgnMode`` present (50014) and cross or isolated, ``posSide`` absent or net (51000)."""
    mode = body.get("mgnMode")
    if mode in ("", None):
        raise OkxError("50014", "Parameter mgnMode can not be empty")
    if mode not in MARGIN_MODES:
        raise OkxError("51000", "Parameter mgnMode error")
    if body.get("posSide", "") not in ("", "net"):
        raise OkxError("51000", "Parameter posSide error")
    return str(mode)


def set_leverage(front: OkxFrontEnd, body: dict[str, Any]) -> list[Any]:
    """``POST /api/v5/account/set-leverage`` (module docstring)."""
    if body.get("instId", "") in ("", None) and body.get("ccy") not in ("", None):
        raise OkxError("51000", "Parameter ccy error")
    check_swap(front, body)
    if body.get("lever") in ("", None):
        raise OkxError("50014", "Parameter lever can not be empty")
    mode = check_margin_mode(body)
    lever = _lever(body["lever"])
    if lever > MAX_LEVER:
        raise OkxError("59102", "Leverage exceeds the maximum leverage. Please adjust the leverage")
    venue = front.venue
    acct = venue.account
    if mode == "cross" and acct.position != 0:
        mark = venue.mark_price()
        margin = front.inst.lots_to_base(abs(acct.position)) * mark / lever
        if margin > acct.balance + acct.unrealized(mark):
            raise OkxError(
                "59103",
                "Leverage is too low and no sufficient margin in your account. "
                "Please adjust the leverage",
            )
    said = w.dec(lever)
    front.streams.leverage[str(mode)] = said
    return [{"lever": said, "mgnMode": mode, "instId": front.symbol, "posSide": "net"}]


def leverage_info(front: OkxFrontEnd, params: dict[str, str]) -> list[Any]:
    """``GET /api/v5/account/leverage-info``: ``instId`` (comma list) and ``mgnMode``."""
    ids = [i for i in params.get("instId", "").split(",") if i]
    if not ids:
        raise OkxError("50014", "Parameter instId can not be empty")
    if any(i != front.symbol for i in ids):
        raise OkxError("51001", "Instrument ID does not exist")
    mode = params.get("mgnMode", "")
    if mode == "":
        raise OkxError("50014", "Parameter mgnMode can not be empty")
    if mode not in MARGIN_MODES:
        raise OkxError("51000", "Parameter mgnMode error")
    lever = front.streams.leverage[mode]
    return [{"instId": front.symbol, "mgnMode": mode, "posSide": "net", "lever": lever}]


def trade_fee(front: OkxFrontEnd, params: dict[str, str]) -> list[Any]:
    """``GET /api/v5/account/trade-fee``: ``instType`` required; ``instFamily``/``uly`` name
    the swap's family (``BTC-USDT``), ``instId`` is for SPOT and MARGIN only (OKX)."""
    inst_type = params.get("instType", "")
    if inst_type == "":
        raise OkxError("50014", "Parameter instType can not be empty")
    if inst_type not in INST_TYPES:
        raise OkxError("51000", "Parameter instType error")
    family = f"{front.inst.base_asset}-USDT"
    for name in ("instFamily", "uly"):
        if params.get(name, "") not in ("", family):
            raise OkxError("51001", "Instrument ID does not exist")
    fees = front.venue.config.fees
    maker, taker = w.dec(-fees.maker_rate), w.dec(-fees.taker_rate)
    return [
        {
            "category": "1",
            "delivery": "",
            "exercise": "",
            "instType": inst_type,
            "level": "Lv1",
            "maker": maker,
            "taker": taker,
            "makerU": maker,
            "takerU": taker,
            "makerUSDC": maker,
            "takerUSDC": taker,
            "ruleType": "normal",
            "fiat": [],
            "ts": w.s(front.venue.wall_ms()),
        }
    ]
