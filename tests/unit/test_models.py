"""The pure model formulas against hand-computed values, and their input validation."""

from __future__ import annotations

import math

import pytest

from mmtrio.core.models import (
    as_distances,
    as_infinite_distances,
    as_reservation_price,
    as_total_spread,
    glft_c,
    glft_distances,
    spread_base,
)
from mmtrio.errors import ParameterError

LN_16_15 = 0.06453852113757116  # ln(1 + 0.1/1.5)


def test_spread_base_is_log_term() -> None:
    assert spread_base(0.1, 1.5) == pytest.approx(10 * LN_16_15, rel=1e-12)
    # γ → 0 limit is 1/k
    assert spread_base(1e-12, 2.0) == pytest.approx(0.5, rel=1e-9)


def test_as_reservation_price_hand_value() -> None:
    # r = 100 − 2·0.1·2²·0.5 = 99.6
    assert as_reservation_price(100.0, 2.0, 0.1, 2.0, 0.5) == pytest.approx(99.6, abs=1e-12)
    # flat inventory or no time left: r = s
    assert as_reservation_price(100.0, 0.0, 0.1, 2.0, 0.5) == 100.0
    assert as_reservation_price(100.0, 5.0, 0.1, 2.0, 0.0) == 100.0


def test_as_total_spread_hand_value() -> None:
    # 0.1·4·0.5 + (2/0.1)·ln(1 + 0.1/1.5) = 0.2 + 1.290770...
    assert as_total_spread(0.1, 2.0, 0.5, 1.5) == pytest.approx(0.2 + 20 * LN_16_15, rel=1e-12)


def test_as_distances_are_symmetric_around_reservation() -> None:
    d = as_distances(2.0, 0.1, 2.0, 1.5, 0.5)
    half = (0.2 + 20 * LN_16_15) / 2
    assert d.bid == pytest.approx(half + 0.4, rel=1e-12)  # long: bid further away
    assert d.ask == pytest.approx(half - 0.4, rel=1e-12)  # and ask closer
    short = as_distances(-2.0, 0.1, 2.0, 1.5, 0.5)
    assert short.bid == pytest.approx(d.ask) and short.ask == pytest.approx(d.bid)


def test_as_infinite_hand_values() -> None:
    # γ = k = 1, Q = 1: base = ln 2, D(q) = 4 − q².
    d0 = as_infinite_distances(0.0, 1.0, 0.7, 1.0, 1.0)
    # r_b − s = ln(D(1)/D(0)) = ln(3/4), r_a − s = ln(D(0)/D(−1)) = ln(4/3)
    assert d0.bid == pytest.approx(math.log(2) - math.log(0.75), rel=1e-12)
    assert d0.ask == pytest.approx(math.log(2) + math.log(4 / 3), rel=1e-12)
    # at q = Q: no bid (infinite distance); r_a − s = ln(D(1)/D(0)) = ln(3/4)
    dq = as_infinite_distances(1.0, 1.0, 0.7, 1.0, 1.0)
    assert dq.bid == math.inf
    assert dq.ask == pytest.approx(math.log(2) + math.log(0.75), rel=1e-12)
    # at q = −Q: the mirror image
    dm = as_infinite_distances(-1.0, 1.0, 0.7, 1.0, 1.0)
    assert dm.ask == math.inf
    assert dm.bid == pytest.approx(dq.ask, rel=1e-12)


@pytest.mark.parametrize("q", [0.0, 0.5, 1.0, 2.5, 4.0, 5.0])
def test_as_infinite_is_mirror_symmetric(q: float) -> None:
    long, short = (as_infinite_distances(x, 0.3, 1.0, 1.2, 5.0) for x in (q, -q))
    assert long.bid == pytest.approx(short.ask, rel=1e-12)
    assert long.ask == pytest.approx(short.bid, rel=1e-12)


def test_as_infinite_does_not_depend_on_sigma() -> None:
    # ω ∝ σ², so σ cancels: the stationary quotes depend on q, γ, k and q_max only.
    assert as_infinite_distances(2.0, 0.5, 0.0, 1.0, 5.0) == as_infinite_distances(
        2.0, 0.5, 30.0, 1.0, 5.0
    )


def test_as_infinite_skews_against_inventory() -> None:
    flat = as_infinite_distances(0.0, 0.5, 1.0, 1.0, 5.0)
    long = as_infinite_distances(3.0, 0.5, 1.0, 1.0, 5.0)
    assert long.bid > flat.bid and long.ask < flat.ask


def test_as_infinite_rejects_inventory_beyond_bound() -> None:
    with pytest.raises(ParameterError, match=r"q must be in \[-q_max, q_max\]"):
        as_infinite_distances(6.0, 0.5, 1.0, 1.0, 5.0)


def test_glft_hand_values() -> None:
    # GLFT paper parameters: γ=0.01, σ=0.3, k=0.3, A=0.9
    base = 3.278982282299097  # 100·ln(1 + 1/30)
    c = 0.0678658325308838  # sqrt(0.09·0.01/0.54·(31/30)^31)
    assert glft_c(0.01, 0.3, 0.3, 0.9) == pytest.approx(c, rel=1e-10)
    d1 = glft_distances(1.0, 0.01, 0.3, 0.3, 0.9)
    assert d1.bid == pytest.approx(base + 1.5 * c, rel=1e-10)
    assert d1.ask == pytest.approx(base - 0.5 * c, rel=1e-10)
    d0 = glft_distances(0.0, 0.01, 0.3, 0.3, 0.9)
    assert d0.bid == pytest.approx(d0.ask) == pytest.approx(base + 0.5 * c)


def test_glft_small_gamma_limit_uses_e() -> None:
    # (1+γ/k)^(1+k/γ) → e as γ/k → 0: C → sqrt(σ²γ·e/(2kA))
    g, s, k, a = 1e-9, 1.0, 1.0, 1.0
    assert glft_c(g, s, k, a) == pytest.approx(math.sqrt(g * math.e / 2), rel=1e-6)


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda: as_total_spread(math.nan, 1.0, 1.0, 1.0), "gamma"),
        (lambda: as_total_spread(-0.1, 1.0, 1.0, 1.0), "gamma"),
        (lambda: as_total_spread(0.1, -1.0, 1.0, 1.0), "sigma"),
        (lambda: as_total_spread(0.1, 1.0, math.inf, 1.0), "tau"),
        (lambda: as_total_spread(0.1, 1.0, 1.0, 0.0), "k"),
        (lambda: as_reservation_price(math.nan, 0.0, 0.1, 1.0, 1.0), "mid"),
        (lambda: glft_distances(math.nan, 0.1, 1.0, 1.0, 1.0), "q"),
        (lambda: glft_c(0.1, 1.0, 1.0, 0.0), "A"),
        (lambda: as_infinite_distances(0.0, 0.1, 1.0, 1.0, 0.0), "q_max"),
    ],
)
def test_invalid_inputs_name_the_parameter(call: object, param: str) -> None:
    with pytest.raises(ParameterError, match=rf"^{param} must be"):
        call()  # type: ignore[operator]


def test_overflow_is_a_parameter_error_not_inf() -> None:
    with pytest.raises(ParameterError, match="not finite"):
        as_total_spread(1.0, 1e200, 1.0, 1.0)
    with pytest.raises(ParameterError, match="not finite"):
        glft_c(1.0, 1e300, 1.0, 1e-300)  # C ≈ e^1036


def _glft_c_decimal(g: float, s: float, k: float, a: float) -> float:
    """C at 60 significant digits: no underflow or overflow in between (an independent check)."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        G, S, K, A = (Decimal(x) for x in (g, s, k, a))
        power = ((1 + K / G) * (1 + G / K).ln()).exp()
        return float(S * (G / (2 * K * A) * power).sqrt())


@pytest.mark.parametrize(
    ("g", "s", "k", "a"),
    [
        (1.0, 1e-250, 1e-200, 1e-200),  # σ² and 2kA both underflow; C itself is ~7e49
        (0.5, 3.0, 1e-160, 1e-170),  # 2kA underflows
        (1e-3, 1e-170, 2.0, 0.9),  # σ² underflows
        (0.01, 0.3, 0.3, 0.9),  # an ordinary value, same path
    ],
)
def test_glft_c_is_exact_where_its_intermediate_terms_leave_the_float_range(
    g: float, s: float, k: float, a: float
) -> None:
    assert glft_c(g, s, k, a) == pytest.approx(_glft_c_decimal(g, s, k, a), rel=1e-9)


def test_glft_c_with_no_volatility_is_zero_even_for_extreme_k_and_a() -> None:
    # Found by the quoting property test: 2kA underflowed to 0 → ZeroDivisionError.
    k, a = 8.752935456417376e-275, 1.377458710214979e-260
    assert glft_c(1.0, 0.0, k, a) == 0.0
    with pytest.raises(ParameterError, match="GLFT coefficient C is not finite"):
        glft_c(1.0, 1.0, k, a)  # C ≈ e^929: a named error, not a crash
