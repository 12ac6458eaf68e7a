"""The strategy part of `mmtrio status` in the operator's units (schema ``mmtrio.status/2``).

Prices are quote-asset strings with the instrument's decimals, sizes base-asset strings with
the lot's decimals, money quote-asset strings rounded to the cent with fees negative (a cost):
the same figures, rounded the same way, as the screen, the logs and Telegram show
(:mod:`mmtrio.units`). Strings, not floats, so that ``jq`` prints exactly what the screen shows.
``units`` in the document names the assets.
"""

from __future__ import annotations

from typing import Any

from mmtrio import units
from mmtrio.core.instruments import Instrument
from mmtrio.core.notices import Notice, StrategyStatus

STATUS_SCHEMA = "mmtrio.status/2"


def _fill(inst: Instrument, n: Notice) -> dict[str, Any]:
    price, qty = n.data.get("price"), n.data.get("qty")
    out: dict[str, Any] = {"ts": n.ts, "side": n.data.get("side")}
    if isinstance(price, int) and isinstance(qty, int):
        out["size"] = units.size(inst, qty)
        out["price"] = units.price(inst, price)
    out["maker"] = n.data.get("maker")
    return out


def strategy_doc(st: StrategyStatus, inst: Instrument) -> dict[str, Any]:
    """The strategy status as plain data in operator units (module docstring)."""
    led = st.ledger
    pnl = units.ledger_pnl(led)  # rounded together: the parts add up to equity as printed
    value = units.notional(inst, st.position_lots, st.mid)
    return {
        "trading_state": st.trading_state.value,
        "reason": st.reason,
        "cannot_quote": st.cannot_quote or None,
        "band": st.band.value,
        "position": units.size(inst, st.position_lots, signed=True),
        "position_value": None if value is None else units.money_plain(value),
        "entry_price": None
        if st.position_lots == 0
        else f"{st.entry_price:.{inst.price_decimals}f}",
        "mid": None if st.mid is None else units.mid_price(inst, st.mid),
        "best_bid": None if st.best_bid is None else units.price(inst, st.best_bid),
        "best_ask": None if st.best_ask is None else units.price(inst, st.best_ask),
        "book_synced": st.book_synced,
        "book_age_ms": st.book_age_ms,
        "quotes": [
            {
                "side": q.side.value,
                "level": q.level,
                "price": units.price(inst, q.price),
                "size": units.size(inst, q.qty),
                "queue_ahead": None
                if q.queue_ahead_estimate is None
                else units.size(inst, q.queue_ahead_estimate),
                "age_ms": q.age_ms,
                "state": q.state.value,
                "client_id": q.client_id,
            }
            for q in st.quotes
        ],
        "ledger": {
            "equity": units.money_plain(pnl.equity),
            "realised": units.money_plain(pnl.realised),
            "unrealised": units.money_plain(pnl.unrealised),
            # every fee, those paid in another asset at its price (core/ledger.py)
            "fees": units.money_plain(pnl.fees),
            "fees_in_other_assets": {a: f"{v.normalize():f}" for a, v in led.other_asset_fees},
            "equity_excludes": units.unpriced_fees(led.unpriced_fees),
            "funding": units.money_plain(pnl.funding),
            "spread_capture": units.money_plain(pnl.spread_capture),
            "inventory": units.money_plain(pnl.inventory),
            "reconciliation": units.money_plain(pnl.reconciliation),
            "fills": led.fills,
            "volume": units.size(inst, led.volume_lots),
        },
        "drawdown": units.money_plain(st.drawdown).lstrip("+"),
        "max_drawdown": units.money_plain(st.max_drawdown).lstrip("+"),
        "quote_to_trade": round(st.quote_to_trade, 1),
        "model": {
            "sigma": st.sigma,
            "a": st.a,
            "k": st.k,
            "intensity_source": st.intensity_source,
            "sigma_source": st.sigma_source,
            "post_only_safety_ticks": st.safety_ticks,
            "defence": {
                "bid_ticks": st.defence_bid_ticks,
                "ask_ticks": st.defence_ask_ticks,
                "regime_scale": st.regime_scale,
                "reason": st.defence,
            },
        },
        "last_fills": [_fill(inst, n) for n in st.last_fills],
        "alerts": [{"ts": n.ts, "message": n.message} for n in st.alerts],
    }


def units_doc(inst: Instrument) -> dict[str, str]:
    """What the strings of the document are in."""
    return {"price": inst.quote_asset, "size": inst.base_asset, "money": inst.quote_asset}


__all__ = ["STATUS_SCHEMA", "strategy_doc", "units_doc"]
