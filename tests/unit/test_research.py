"""The literature reproductions: AS 2008's qualitative results, GLFT's exact solver."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from numpy.typing import NDArray

from mmtrio.cli import main
from mmtrio.core.models import glft_distances, spread_base
from mmtrio.research import as2008, glft


@pytest.fixture(scope="module")
def as_results() -> dict[float, dict[str, as2008.StrategyStats]]:
    return as2008.run(paths=400, seed=7)


def test_inventory_strategy_has_lower_risk_than_symmetric(
    as_results: dict[float, dict[str, as2008.StrategyStats]],
) -> None:
    # The paper's main qualitative result, for γ = 0.1 (and it holds for every γ).
    for gamma in as2008.GAMMAS:
        inv, sym = as_results[gamma]["inventory"], as_results[gamma]["symmetric"]
        assert inv.profit_std < sym.profit_std
        assert inv.q_std < sym.q_std


@pytest.mark.parametrize(
    ("gamma", "name"),
    [
        (0.1, "inventory"),
        (0.1, "symmetric"),
        (0.01, "inventory"),
        (0.01, "symmetric"),
        (1.0, "inventory"),
        (1.0, "symmetric@paper-spread"),
    ],
)
def test_means_within_a_loose_band_of_the_paper(
    as_results: dict[float, dict[str, as2008.StrategyStats]], gamma: float, name: str
) -> None:
    ours = as_results[gamma][name]
    paper = as2008.PAPER[gamma]["symmetric" if "@" in name else name]
    assert ours.profit_mean == pytest.approx(paper.profit_mean, rel=0.12)
    assert ours.profit_std == pytest.approx(paper.profit_std, rel=0.25)
    assert ours.q_std == pytest.approx(paper.q_std, rel=0.25)
    assert abs(ours.q_mean) < 1.0  # the paper's means are all within ±0.31 of zero


def test_inventory_spread_is_the_time_average_of_the_formula(
    as_results: dict[float, dict[str, as2008.StrategyStats]],
) -> None:
    # mean of γσ²(T−t_i) over t_i = i·dt, i < 200, is γσ²·(1 − 0.4975)
    for gamma in as2008.GAMMAS:
        expected = gamma * 4.0 * 0.5025 + 2 * spread_base(gamma, 1.5)
        assert as_results[gamma]["inventory"].spread == pytest.approx(expected, rel=1e-12)
        assert as_results[gamma]["symmetric"].spread == pytest.approx(expected, rel=1e-12)


def test_as2008_is_deterministic_per_seed() -> None:
    assert as2008.run(paths=20, seed=3) == as2008.run(paths=20, seed=3)
    assert as2008.run(paths=20, seed=3) != as2008.run(paths=20, seed=4)


# --- GLFT ------------------------------------------------------------------------------------


def _rk4_v(
    q_max: int, gamma: float, sigma: float, k: float, a: float, tau: float
) -> NDArray[np.float64]:
    """v(τ) from dv/dτ = −M·v, v(0) = 1, by fine-step RK4; M built here from the definition."""
    alpha = k / 2 * gamma * sigma**2
    eta = a * (1 + gamma / k) ** (-(1 + k / gamma))
    n = 2 * q_max + 1
    m = np.zeros((n, n))
    for i in range(n):
        q = q_max - i
        m[i, i] = alpha * q * q
        if i + 1 < n:
            m[i, i + 1] = m[i + 1, i] = -eta
    v: NDArray[np.float64] = np.ones(n)
    steps = 20_000
    h = tau / steps
    for _ in range(steps):
        k1 = -m @ v
        k2 = -m @ (v + h / 2 * k1)
        k3 = -m @ (v + h / 2 * k2)
        k4 = -m @ (v + h * k3)
        v = v + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return v


@pytest.mark.parametrize(
    ("gamma", "sigma", "k", "a", "tau"),
    [(0.01, 0.3, 0.3, 0.9, 30.0), (0.1, 1.0, 1.0, 5.0, 5.0), (0.05, 2.0, 0.5, 1.0, 3.0)],
)
def test_exact_solver_matches_ode_integration(
    gamma: float, sigma: float, k: float, a: float, tau: float
) -> None:
    q_max = 4
    ode = _rk4_v(q_max, gamma, sigma, k, a, tau)
    exact, _ = glft.exact_v(glft.generator_matrix(q_max, gamma, sigma, k, a), tau)
    # exact_v is v up to a positive factor (the λ_min shift): compare shapes
    np.testing.assert_allclose(exact / exact[q_max], ode / ode[q_max], rtol=1e-9)
    qs, bid, ask, _ = glft.exact_quotes(q_max, gamma, sigma, k, a, tau=tau)
    base = math.log1p(gamma / k) / gamma
    for i, q in enumerate(qs):
        if q < q_max:
            assert bid[i] == pytest.approx(math.log(ode[i] / ode[i - 1]) / k + base, rel=1e-9)
        else:
            assert math.isnan(bid[i])
        if q > -q_max:
            assert ask[i] == pytest.approx(math.log(ode[i] / ode[i + 1]) / k + base, rel=1e-9)
        else:
            assert math.isnan(ask[i])


def test_exact_quotes_at_the_horizon_are_the_flat_spread() -> None:
    _, bid, ask, _ = glft.exact_quotes(3, 0.1, 1.0, 1.0, 1.0, tau=0.0)
    np.testing.assert_allclose(bid[1:], spread_base(0.1, 1.0))
    np.testing.assert_allclose(ask[:-1], spread_base(0.1, 1.0))


def test_closed_form_is_close_to_exact_in_the_asymptotic_regime() -> None:
    # The GLFT paper's parameters: the closed form tracks the exact stationary quotes in the
    # inner inventory range to a fraction of a tick, and drifts near the bounds.
    r = glft.compare(0.01, 0.3, 0.3, 0.9)
    assert r.max_abs_inner < 0.05
    assert r.max_abs_all > r.max_abs_inner
    assert r.stationarity < 1e-12
    qs, bid, _, _ = glft.exact_quotes(20, 0.01, 0.3, 0.3, 0.9, tau=glft.HORIZON_S)
    i0 = 20
    assert qs[i0] == 0
    assert bid[i0] == pytest.approx(glft_distances(0.0, 0.01, 0.3, 0.3, 0.9).bid, abs=0.01)


def test_exact_quotes_are_skewed_against_inventory() -> None:
    _, bid, ask, _ = glft.exact_quotes(5, 0.05, 1.0, 0.5, 2.0, tau=1e4)
    inner_bid, inner_ask = bid[1:-1], ask[1:-1]  # q = 4 … −4, both sides quoted
    assert np.all(np.diff(inner_bid) < 0)  # as q falls (index rises), the bid comes closer
    assert np.all(np.diff(inner_ask) > 0)


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_as2008_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["research", "as2008", "--paths", "20", "--seed", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["params"]["paths"] == 20
    rows = {(r["gamma"], r["strategy"]) for r in doc["results"]}
    assert (0.1, "inventory") in rows and (1.0, "symmetric") in rows
    assert all(set(r["paper"]) == set(r["ours"]) for r in doc["results"])


def test_cli_as2008_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["research", "as2008", "--paths", "20"]) == 0
    out = capsys.readouterr().out
    assert "paper" in out and "62.94" in out and "inventory" in out


def test_cli_glft(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["research", "glft"]) == 0
    assert "largest gap overall" in capsys.readouterr().out
    assert main(["research", "glft", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["grid"]) == 24 and doc["overall"]["max_abs_all"] > 0


@pytest.mark.parametrize("bad", [["--paths", "0"], ["--paths", "x"], ["--seed", "-1"]])
def test_cli_bad_arguments_exit_2(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["research", "as2008", *bad])
    assert exc.value.code == 2
    assert "must be" in capsys.readouterr().err
