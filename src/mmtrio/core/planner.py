"""The quote planner: which quotes we want now, by slot, or why we want none.

It owns the quoting model's inputs (the EWMA volatility, the trade-intensity fit, the
post-only safety distance, the funding rate) and turns the book and the risk view into the
desired ladder: :func:`mmtrio.core.quoting.quote` prices it, the risk view's side permissions
and size multipliers shape it. What to *send* to get from the live orders to that ladder is
the order emitter's job (:mod:`mmtrio.core.emitter`); the planner never sees an order.

Decisions (each what a careful desk does):

- σ is the EWMA volatility of the mid in ticks/√s once warmed up, else the configured
  fallback (the status says which). (A, k) are refitted at most once per
  ``INTENSITY_REFRESH_MS``: the fit sorts the whole window, too slow for every depth diff.
- σ as the model sees it is re-sampled from the estimator when it moved by more than 1 % or
  every second (``SIGMA_REQUOTE_REL``/``SIGMA_REFRESH_MS``): the EWMA moves on every diff, and
  an exact σ would make every depth diff a new plan (:mod:`mmtrio.core.plan_skip`).
- The estimators are fed the strategy's own clock ``t`` (``max(now seen)``), never venue
  timestamps: market and user streams interleave and venue times can go backwards.
- Risk size multipliers scale each level's size down (floor), then the venue minimum is
  restored but never above the model's size; a level scaled below one lot is withdrawn.
- The intensity fit passes a quality gate (:mod:`mmtrio.core.fit_gate`): below
  ``min_fit_r2`` the configured fallback (A, k) is used, with a ``defence`` notice when the
  gate starts and stops refusing.
- The defence (:mod:`mmtrio.core.defence`) widens the side our markouts say is picked off,
  and both sides in a fast volatility regime; its widening is a plan input, and a ``defence``
  notice says each change and why.
- No quote before ``warmup_ms`` of market data (counted from the first applied book
  update): the estimators would otherwise price quotes off their fallbacks (σ, A, k).
- A stream that is down blocks quoting (our fills would be invisible on the user stream, the
  book is invalid without the market stream) until it is back.
- A flatten order's limit is the touch moved by ``flatten_slippage_bps``, rounded toward the
  touch onto the price grid, so the slippage bound always holds.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from typing import Final

from mmtrio.core.book import OrderBook
from mmtrio.core.defence import NO_WIDENING, Defence, Widening, worth_telling
from mmtrio.core.estimator_base import NotEnoughData
from mmtrio.core.events import Side
from mmtrio.core.fit_gate import gate_fit
from mmtrio.core.instruments import Instrument
from mmtrio.core.intensity import IntensityEstimator, IntensityParams
from mmtrio.core.microprice import microprice
from mmtrio.core.notice_log import NoticeLog
from mmtrio.core.orders import Slot
from mmtrio.core.post_only import PostOnlySafety
from mmtrio.core.quote_params import MarketView, ModelInputs, QuoteParams
from mmtrio.core.quoting import CannotQuote, Quote, QuoteMemo, quote
from mmtrio.core.risk import RiskView
from mmtrio.core.strategy_config import Parts, StrategyConfig
from mmtrio.core.volatility import EwmaVolatility
from mmtrio.errors import ParameterError

INTENSITY_REFRESH_MS: Final = 1_000
# σ as the quote model sees it is re-sampled from the estimator when it moved by more than
# SIGMA_REQUOTE_REL, or every SIGMA_REFRESH_MS. The EWMA changes on every book update (a
# zero return still decays it), so an exact σ would make every depth diff a new plan; a 1 %
# change in σ moves the A-S spread by well under a tick at the default parameters.
SIGMA_REFRESH_MS: Final = 1_000
SIGMA_REQUOTE_REL: Final = 0.01
INTENSITY_MAX_DEPTH_TICKS: Final = 50.0  # depth range of the λ(δ) fit; quotes sit well inside


def build_parts(
    cfg: StrategyConfig,
) -> tuple[EwmaVolatility, IntensityEstimator, PostOnlySafety]:
    """The model-side objects a config determines (validated by their constructors)."""
    vol = EwmaVolatility(cfg.vol_half_life_ms, cfg.vol_min_returns)
    intensity = IntensityEstimator(
        cfg.intensity_window_ms,
        INTENSITY_MAX_DEPTH_TICKS,
        cfg.intensity_min_trades,
        fallback_a=cfg.fallback_a,
        fallback_k=cfg.fallback_k,
    )
    safety = PostOnlySafety(
        cfg.post_only_base_ticks, cfg.post_only_max_ticks, cfg.post_only_decay_after
    )
    return vol, intensity, safety


class QuotePlanner:
    """The desired quotes from the book, the model inputs and the risk view."""

    def __init__(self, config: StrategyConfig, book: OrderBook, log: NoticeLog) -> None:
        self.config = config
        self.book = book
        self._log = log
        self.vol, self.intensity, self.safety = build_parts(config)
        self.funding_rate = 0.0
        self.blocked: dict[str, str] = {}  # stream -> why quoting is blocked
        self.params: IntensityParams | None = None
        self._params_at = -(10**18)
        # The last (config.quote, allow_bid, allow_ask) -> QuoteParams: rebuilding (and
        # re-validating) the frozen params on every step is a hot-path cost; same value.
        self._quote_params: tuple[QuoteParams, bool, bool, QuoteParams] | None = None
        # This planner's memo of quoting's pure steps (the model, the widening, the ladders):
        # its own, so other planners in the process (symbols, sweeps, tests) never evict it.
        self._quote_memo = QuoteMemo()
        self.sigma = config.sigma_fallback_ticks
        self.sigma_source = "fallback"
        self._sigma_at = -(10**18)
        self._model_inputs = ModelInputs(math.nan, math.nan, math.nan)
        self._finite_inputs: ModelInputs | None = None  # the last inputs found all finite
        self.config_version = 0  # bumped by swap: a reloaded config is a new plan input
        self.market_since: int | None = None  # the first applied book update (warm-up start)
        self.defence = Defence(config.defence)
        self.widening: Widening = NO_WIDENING  # in force since the last inputs()
        self._told: Widening = NO_WIDENING  # the widening the last defence notice described
        self._gated = False  # the fit gate refused the last fit
        # (ladders, multipliers, instrument) -> the desired dict built from them (_by_slot)
        self._last_by_slot: (
            tuple[
                tuple[tuple[Quote, ...], tuple[Quote, ...], float, float, Instrument],
                dict[Slot, Quote],
            ]
            | None
        ) = None

    @property
    def instrument(self) -> Instrument:
        return self.config.instrument

    # --- model inputs ------------------------------------------------------------------------
    def on_mid(self, mid: float, t: int) -> None:
        """A new mid from an applied book update."""
        if self.market_since is None:
            self.market_since = t
        self.vol.update(mid, t)
        self.intensity.on_mid(mid, t)
        self.defence.on_mid(mid, t)

    def on_trade(self, price: float, aggressor: Side, t: int) -> None:
        """A public trade (the intensity fit's sample)."""
        self.intensity.on_trade(price, aggressor, t)

    def swap(self, config: StrategyConfig, parts: Parts) -> None:
        """Take a reloaded config and its (kept or rebuilt) model parts; cannot fail."""
        vol, intensity, _, safety = parts
        if intensity is not self.intensity:
            self.params = None  # refit with the new estimator at the next step
        self.vol, self.intensity, self.safety = vol, intensity, safety
        self.defence.retune(config.defence)
        self.params = None  # min_fit_r2 or the fallbacks may have changed: gate again
        self.config = config
        self.config_version += 1

    def intensity_params(self, t: int) -> IntensityParams:
        """The (A, k) in use, or a fresh fit when none has been made yet (status)."""
        return self.params or self.intensity.params(t)

    def inputs(self, now: int, t: int) -> ModelInputs:
        """σ, A and k as the quote model sees them now (sampled; see ``SIGMA_*``). The same
        object while they are unchanged, so a plan key compares them cheaply."""
        sig = self.vol.sigma_price(1000.0)
        if isinstance(sig, NotEnoughData) or not math.isfinite(sig):
            self.sigma, self.sigma_source = self.config.sigma_fallback_ticks, "fallback"
        elif (
            self.sigma_source != "ewma"
            or now - self._sigma_at >= SIGMA_REFRESH_MS
            or abs(sig - self.sigma) > SIGMA_REQUOTE_REL * self.sigma
        ):
            self.sigma, self.sigma_source, self._sigma_at = sig, "ewma", now
        params = self.params
        if params is None or now - self._params_at >= INTENSITY_REFRESH_MS:
            params = self._refit(t)
            self._params_at = now
        self._defend(now)
        inputs = self._model_inputs
        if (inputs.sigma, inputs.a, inputs.k) != (self.sigma, params.a, params.k):
            inputs = self._model_inputs = ModelInputs(self.sigma, params.a, params.k)
        return inputs

    def _refit(self, t: int) -> IntensityParams:
        cfg = self.config
        raw = self.intensity.params(t)
        params = self.params = gate_fit(raw, cfg.min_fit_r2, cfg.fallback_a, cfg.fallback_k)
        gated = raw.source == "fit" and params.source == "fallback"
        if gated != self._gated:
            self._gated = gated
            self._log.add(
                "defence",
                f"intensity fit refused, quoting on the fallback A and k: {params.detail}"
                if gated
                else "intensity fit accepted again",
                gate="fit",
                acting=gated,
            )
        return params

    def _defend(self, now: int) -> None:
        w = self.defence.widening(now)
        if w is not self.widening:
            self.widening = w
            if not worth_telling(self._told, w):
                return  # in force (and on the status); too close to the last notice to tell
            self._told = w
            self._log.add(
                "defence",
                self.defence.describe(w, now),
                gate="widening",
                acting=w.active,
                bid_ticks=w.bid_ticks,
                ask_ticks=w.ask_ticks,
                scale=w.scale,
            )

    def plan_key(self, view: RiskView, inputs: ModelInputs, now: int) -> tuple[object, ...]:
        """Everything :meth:`desired` depends on (:mod:`mmtrio.core.plan_skip`).

        The touch (prices and sizes: the microprice reads the sizes), why quoting is blocked,
        the model inputs, what risk allows (state, sides, size multipliers, inventory), the
        post-only safety, funding, the defence's widening and the config.
        """
        book = self.book
        return (
            book.best_bid(),
            book.best_ask(),
            self._why_not_quote(now),
            inputs,
            view.state,
            view.allow_bid,
            view.allow_ask,
            view.bid_size_multiplier,
            view.ask_size_multiplier,
            view.position_lots,
            self.safety.ticks,
            self.funding_rate,
            self.widening,
            self.config_version,
        )

    # --- the plan ----------------------------------------------------------------------------
    def desired(self, view: RiskView, inputs: ModelInputs, now: int) -> dict[Slot, Quote]:
        """The quotes we want now, by slot, from the model ``inputs`` (:meth:`inputs`);
        empty (with a reason) when we cannot quote."""
        log = self._log
        reason = self._why_not_quote(now)
        if reason:
            log.cannot_quote(reason)
            return {}
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is None or ask is None:
            log.cannot_quote("book side empty")
            return {}
        mid = (bid[0] + ask[0]) / 2
        try:
            micro = microprice(bid[0], bid[1], ask[0], ask[1])
        except ParameterError as exc:
            log.cannot_quote(f"no microprice: {exc}")
            return {}
        if inputs is not self._finite_inputs:  # checked once per inputs object
            for name, value in (("sigma", inputs.sigma), ("a", inputs.a), ("k", inputs.k)):
                if not math.isfinite(value):
                    log.cannot_quote(f"model input {name} is not finite")
                    return {}
            self._finite_inputs = inputs
        qp = self._quote_params
        base = self.config.quote
        if qp is None or qp[0] is not base or (qp[1], qp[2]) != (view.allow_bid, view.allow_ask):
            built = replace(base, allow_bid=view.allow_bid, allow_ask=view.allow_ask)
            qp = self._quote_params = (base, view.allow_bid, view.allow_ask, built)
        params = qp[3]
        result = quote(
            self.instrument,
            MarketView(bid[0], ask[0], mid, micro),
            inventory_lots=view.position_lots,
            inputs=inputs,
            params=params,
            funding_rate=self.funding_rate,
            safety_ticks=self.safety.ticks,
            widening=self.widening,
            memo=self._quote_memo,
        )
        if isinstance(result, CannotQuote):
            log.cannot_quote(result.reason)
            return {}
        desired = self._by_slot(result.bids, result.asks, view)
        if not desired:
            log.cannot_quote("risk size multipliers leave no level")
            return {}
        log.cannot_quote("")
        return desired

    def _by_slot(
        self, bids: tuple[Quote, ...], asks: tuple[Quote, ...], view: RiskView
    ) -> dict[Slot, Quote]:
        """The ladders by slot, sizes scaled by the risk multipliers (a level scaled to
        nothing dropped). The same dict while built from the same ladders (quoting hands the
        same tuples while a ladder is unchanged), multipliers and instrument: equal by value,
        and nothing changes a plan's dict (the emitter and the plan gate only read it)."""
        bid_mult, ask_mult = view.bid_size_multiplier, view.ask_size_multiplier
        key = (bids, asks, bid_mult, ask_mult, self.instrument)
        last = self._last_by_slot
        if (
            last is not None
            and last[0][0] is bids
            and last[0][1] is asks
            and last[0][2] == bid_mult
            and last[0][3] == ask_mult
            and last[0][4] is key[4]
        ):
            return last[1]
        desired: dict[Slot, Quote] = {}
        for quotes, mult in ((bids, bid_mult), (asks, ask_mult)):
            for q in quotes:
                qty = self._scaled(q, mult)
                if qty is not None:
                    # The same quote when its size is unchanged (the common case): equal value.
                    if qty != q.qty_lots:
                        q = replace(q, qty_lots=qty)  # noqa: PLW2901
                    desired[(q.side, q.level)] = q
        self._last_by_slot = (key, desired)
        return desired

    def _why_not_quote(self, now: int) -> str:
        if self.blocked:
            return "; ".join(sorted(self.blocked.values()))
        if not self.book.synced:
            return f"book not synced: {self.book.out_of_sync_reason}"
        warmup = self.config.warmup_ms
        if warmup > 0:
            since = self.market_since
            seen = 0 if since is None else now - since
            if seen < warmup:
                # Documented as "no quoting before this": the estimators are still on their
                # fallbacks (σ, A, k), which would price quotes off a market not yet measured.
                return (
                    f"warming up: {seen / 1000:.0f} s of market data of "
                    f"{warmup / 1000:g} s (estimators.warmup_ms)"
                )
        return ""

    def _scaled(self, q: Quote, mult: float) -> int | None:
        if mult >= 1.0:
            return q.qty_lots
        scaled = math.floor(q.qty_lots * mult)
        if scaled < 1:
            return None
        return min(q.qty_lots, max(scaled, self.instrument.min_lots_for_notional(q.price_ticks)))

    def flatten_price(self, side: Side) -> int | None:
        """The limit of a reduce-only IOC on ``side`` within the slippage bound of the touch;
        None when the book gives no usable touch."""
        bid, ask = self.book.best_bid(), self.book.best_ask()
        touch = bid if side is Side.SELL else ask
        if not self.book.synced or touch is None:
            return None
        inst = self.instrument
        # Exact arithmetic; the offset is rounded toward the touch so the bound always holds.
        bps = Fraction(str(self.config.flatten_slippage_bps))
        offset = math.floor(touch[0] * bps / 10_000)
        price = touch[0] - offset if side is Side.SELL else touch[0] + offset
        price = min(max(price, inst.min_price_ticks), inst.max_price_ticks)
        # Onto the price grid, toward the touch: the limit stays within the slippage bound.
        return inst.ceil_price(price) if side is Side.SELL else inst.floor_price(price)
