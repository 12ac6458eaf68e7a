"""Optimal market-making models: Avellaneda–Stoikov and Guéant–Lehalle–Fernandez-Tapia.

Pure float formulas, no rounding: `mmtrio.core.quoting` turns their output into tick prices
(outward) and lot sizes. Every function validates its inputs and raises
`mmtrio.errors.ParameterError` naming the parameter and its allowed range.

Units (one convention for the whole project, the one the GLFT paper uses):

- prices and distances are in **ticks** (floats here);
- time in **seconds**; ``tau`` is the time left to the horizon, ``T − t``;
- ``sigma``: volatility of the reference price in **ticks per √second**;
- ``k``: decay of the fill intensity ``λ(δ) = A·exp(−k·δ)``, **per tick**;
- ``A``: fill intensity at distance zero, **per second**;
- ``gamma``: absolute risk aversion, **per tick per unit of q**;
- ``q``: inventory in **units of the base order size** (as in the literature, where every
  fill moves q by one), so ``q = inventory_lots / base_size_lots``.

All functions return distances from the reference price ``s``: the bid is ``s − bid`` and the
ask ``s + ask``. A distance may be negative (a skewed quote on the far side of the
reference); ``math.inf`` means "do not quote this side" (infinite-horizon model at its
inventory bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmtrio.core.frozen import fast_init
from mmtrio.errors import ParameterError


@fast_init
@dataclass(frozen=True, slots=True)
class QuoteDistances:
    """Model output: distances of the bid and ask from the reference price, in ticks."""

    bid: float
    ask: float


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    return float(value)


def _positive(name: str, value: float) -> float:
    val = _finite(name, value)
    if val <= 0.0:
        raise ParameterError(f"{name} must be in (0, +inf), got {value!r}")
    return val


def _non_negative(name: str, value: float) -> float:
    val = _finite(name, value)
    if val < 0.0:
        raise ParameterError(f"{name} must be in [0, +inf), got {value!r}")
    return val


def _checked(what: str, value: float) -> float:
    """A result that overflowed means the parameters are outside any sensible regime."""
    if math.isnan(value) or math.isinf(value):
        raise ParameterError(
            f"{what} is not finite ({value!r}): the parameters are outside the model's "
            "numerical range; reduce gamma/sigma or check the estimators"
        )
    return value


def spread_base(gamma: float, k: float) -> float:
    """The inventory-free half spread ``(1/γ)·ln(1 + γ/k)`` shared by AS and GLFT (ticks)."""
    g = _positive("gamma", gamma)
    kk = _positive("k", k)
    return _checked("(1/gamma)·ln(1+gamma/k)", math.log1p(g / kk) / g)


# --- Avellaneda–Stoikov (2008), finite horizon ---------------------------------------------


def as_reservation_price(mid: float, q: float, gamma: float, sigma: float, tau: float) -> float:
    """Avellaneda–Stoikov (2008) §3 reservation price ``r = s − q·γ·σ²·(T−t)`` (ticks)."""
    s = _finite("mid", mid)
    qq = _finite("q", q)
    g = _positive("gamma", gamma)
    sig = _non_negative("sigma", sigma)
    t = _non_negative("tau", tau)
    return _checked("reservation price", s - qq * g * sig * sig * t)


def as_total_spread(gamma: float, sigma: float, tau: float, k: float) -> float:
    """Avellaneda–Stoikov (2008) §3 approximate optimal total spread (ticks).

    ``γσ²(T−t) + (2/γ)·ln(1+γ/k)``.
    """
    g = _positive("gamma", gamma)
    sig = _non_negative("sigma", sigma)
    t = _non_negative("tau", tau)
    return _checked("total spread", g * sig * sig * t + 2.0 * spread_base(g, k))


def as_distances(q: float, gamma: float, sigma: float, k: float, tau: float) -> QuoteDistances:
    """Avellaneda–Stoikov finite-horizon quotes as distances from the mid.

    Bid ``r − spread/2`` and ask ``r + spread/2`` around the reservation price ``r``.
    """
    spread = as_total_spread(gamma, sigma, tau, k)
    skew = as_reservation_price(0.0, q, gamma, sigma, tau)  # r − s
    return QuoteDistances(bid=spread / 2.0 - skew, ask=spread / 2.0 + skew)


# --- Avellaneda–Stoikov (2008) §2.5, infinite horizon ---------------------------------------


def as_infinite_distances(
    q: float, gamma: float, sigma: float, k: float, q_max: float
) -> QuoteDistances:
    """Avellaneda–Stoikov (2008) §2.5 infinite-horizon (stationary) quotes.

    The stationary value function with discount rate ω is
    ``v(x, s, q) = −exp(−γx − γqs) / (ω − ½γ²q²σ²)``; the reservation prices are the
    indifference prices ``v(x − r_b, s, q+1) = v(x, s, q)`` and
    ``v(x + r_a, s, q−1) = v(x, s, q)``::

        r_b = s + (1/γ)·ln(1 + (−1 − 2q)·γ²σ² / (2ω − γ²q²σ²))
        r_a = s + (1/γ)·ln(1 + (1 − 2q)·γ²σ² / (2ω − γ²(q−1)²σ²))

    ``r_b`` is the paper's formula as printed. For ``r_a`` the paper prints ``q²`` in the
    denominator; solving its own indifference equation gives ``(q−1)²``, used here: it differs
    at second order in γ²σ²/ω and restores the bid/ask mirror symmetry
    (ask at ``−q`` = bid at ``q``) that the paper's choice of ω is meant to have.

    ``ω = ½·γ²σ²·(q_max + 1)²`` (the paper's choice to keep prices bounded for
    ``|q| ≤ q_max``). With it γ²σ² cancels, so the quotes do not depend on σ, and with
    ``D(q) = (q_max+1)² − q²``: ``r_b − s = (1/γ)ln(D(q+1)/D(q))``,
    ``r_a − s = (1/γ)ln(D(q)/D(q−1))``. The bid is ``+inf`` (do not buy) at ``q = q_max``
    and the ask ``+inf`` at ``q = −q_max``. The quotes add the intensity term of §2.4, as in
    the finite-horizon model: bid ``r_b − (1/γ)ln(1+γ/k)``, ask ``r_a + (1/γ)ln(1+γ/k)``.

    ``q`` must lie in ``[−q_max, q_max]``: outside it the model is undefined. ``sigma`` is
    validated for a uniform signature although it cancels.
    """
    qq = _finite("q", q)
    g = _positive("gamma", gamma)
    _non_negative("sigma", sigma)
    qm = _positive("q_max", q_max)
    if abs(qq) > qm:
        raise ParameterError(
            f"q must be in [-q_max, q_max] = [{-qm}, {qm}] for the infinite-horizon model, "
            f"got {qq}; the risk layer should stop the side that grows inventory first"
        )
    base = spread_base(g, k)
    top = (qm + 1.0) ** 2

    def d(x: float) -> float:
        return top - x * x

    # D(q±1) reaches 0 exactly at the bound: that side is not quoted.
    bid = base - math.log(d(qq + 1.0) / d(qq)) / g if d(qq + 1.0) > 0.0 else math.inf
    ask = base + math.log(d(qq) / d(qq - 1.0)) / g if d(qq - 1.0) > 0.0 else math.inf
    return QuoteDistances(bid=_checked_or_inf(bid), ask=_checked_or_inf(ask))


def _checked_or_inf(value: float) -> float:
    return value if math.isinf(value) else _checked("AS infinite-horizon distance", value)


# --- Guéant–Lehalle–Fernandez-Tapia (2013), closed-form approximation -----------------------


def glft_c(gamma: float, sigma: float, k: float, a: float) -> float:
    """GLFT's inventory coefficient ``C = sqrt(σ²γ/(2kA)·(1+γ/k)^(1+k/γ))`` (ticks per unit q)."""
    g = _positive("gamma", gamma)
    sig = _non_negative("sigma", sigma)
    kk = _positive("k", k)
    aa = _positive("A", a)
    if sig == 0.0:
        return 0.0  # C is proportional to σ: no volatility, no inventory term
    # In logs: with estimated k and A far from 1 the product 2kA underflows to 0 or the power
    # overflows long before C itself leaves the float range. (1+γ/k)^(1+k/γ) goes through
    # log1p: for γ ≪ k it tends to e without cancellation.
    log_c2 = (
        2.0 * math.log(sig)
        + math.log(g)
        - math.log(2.0 * kk)
        - math.log(aa)
        + (1.0 + kk / g) * math.log1p(g / kk)
    )
    try:
        c = math.exp(0.5 * log_c2)
    except OverflowError:
        c = math.inf
    return _checked("GLFT coefficient C", c)


def glft_distances(q: float, gamma: float, sigma: float, k: float, a: float) -> QuoteDistances:
    """Guéant, Lehalle & Fernandez-Tapia (2013), "Dealing with the inventory risk", §4.

    The asymptotic (long-horizon) closed-form approximation::

        δ_bid(q) = (1/γ)ln(1+γ/k) + (2q+1)/2 · C
        δ_ask(q) = (1/γ)ln(1+γ/k) − (2q−1)/2 · C,   C = sqrt(σ²γ/(2kA)·(1+γ/k)^(1+k/γ))

    It is accurate away from the inventory bounds; `mmtrio.research.glft` measures the gap.
    """
    qq = _finite("q", q)
    base = spread_base(gamma, k)
    c = glft_c(gamma, sigma, k, a)
    return QuoteDistances(
        bid=_checked("GLFT bid distance", base + (2.0 * qq + 1.0) / 2.0 * c),
        ask=_checked("GLFT ask distance", base - (2.0 * qq - 1.0) / 2.0 * c),
    )
