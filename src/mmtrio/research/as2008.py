"""Reproduction of Avellaneda & Stoikov (2008), "High-frequency trading in a limit order book",
Quantitative Finance 8(3), §3.3 (Tables 1–3).

Setup of the paper: s0 = 100, T = 1, σ = 2, dt = 0.005, q0 = 0, k = 1.5, A = 140, one unit
per fill. Each step the agent quotes; an ask (bid) fill happens with probability λ(δ)·dt,
λ(δ) = A·e^(−kδ), δ the quote's distance from the mid; then the mid moves ±σ√dt with equal
probability. The *inventory* strategy quotes AS around the reservation price using the
project's `mmtrio.core.models` functions; the *symmetric* strategy quotes the same
time-averaged spread centred on the mid. Profit at T is cash + q·s_T.

Simulation choices where the paper is silent: both sides may fill in the same step
(independent draws); a fill probability above 1 (a quote through the mid) is capped at 1;
the spread reported is the quoted ask − bid averaged over steps and paths.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from mmtrio.core.models import as_reservation_price, as_total_spread

S0 = 100.0
T = 1.0
SIGMA = 2.0
DT = 0.005
K = 1.5
A = 140.0
GAMMAS = (0.1, 0.01, 1.0)
SYM_AT_PAPER_SPREAD = "symmetric@paper-spread"


@dataclass(frozen=True, slots=True)
class StrategyStats:
    spread: float
    profit_mean: float
    profit_std: float
    q_mean: float
    q_std: float


# Avellaneda & Stoikov (2008) Tables 1 (γ=0.1), 2 (γ=0.01), 3 (γ=1), as published.
# Note: the published spreads do not all follow from the paper's own formula with a
# time-average of γσ²(T−t): for γ=0.1 and 0.01 they equal (2/γ)ln(1+γ/k) alone (1.29, 1.33),
# and for γ=1 neither (1.02 without, 3.02 with the term) matches the printed 1.15.
PAPER: dict[float, dict[str, StrategyStats]] = {
    0.1: {
        "inventory": StrategyStats(1.29, 62.94, 5.89, 0.10, 2.80),
        "symmetric": StrategyStats(1.29, 67.21, 13.43, -0.018, 8.66),
    },
    0.01: {
        "inventory": StrategyStats(1.33, 66.78, 8.76, -0.02, 4.70),
        "symmetric": StrategyStats(1.33, 67.36, 13.40, -0.31, 8.65),
    },
    1.0: {
        "inventory": StrategyStats(1.15, 33.92, 4.72, -0.02, 1.88),
        "symmetric": StrategyStats(1.15, 66.20, 14.53, 0.25, 9.06),
    },
}


def _paper(gamma: float, name: str) -> StrategyStats:
    return PAPER[gamma]["symmetric" if name == SYM_AT_PAPER_SPREAD else name]


def _simulate(
    rng: np.random.Generator,
    paths: int,
    gamma: float,
    inventory: bool,
    symmetric_spread: float,
) -> tuple[StrategyStats, float]:
    """One strategy over ``paths`` paths; returns its stats and its time-averaged spread."""
    steps = round(T / DT)
    s = np.full(paths, S0)
    q = np.zeros(paths)
    cash = np.zeros(paths)
    spread_sum = 0.0
    for i in range(steps):
        tau = T - i * DT
        if inventory:
            spread = as_total_spread(gamma, SIGMA, tau, K)
            # r − s is linear in q: the project's function at q = 1 gives the slope, so the
            # whole path vector is priced by one validated call per step.
            slope = as_reservation_price(0.0, 1.0, gamma, SIGMA, tau)
            centre = s + q * slope
        else:
            spread = symmetric_spread
            centre = s
        spread_sum += spread
        bid = centre - spread / 2.0
        ask = centre + spread / 2.0
        p_ask = np.minimum(1.0, A * np.exp(-K * (ask - s)) * DT)
        p_bid = np.minimum(1.0, A * np.exp(-K * (s - bid)) * DT)
        hit_ask = rng.random(paths) < p_ask
        hit_bid = rng.random(paths) < p_bid
        cash += np.where(hit_ask, ask, 0.0) - np.where(hit_bid, bid, 0.0)
        q += hit_bid.astype(float) - hit_ask.astype(float)
        s += SIGMA * math.sqrt(DT) * np.where(rng.random(paths) < 0.5, 1.0, -1.0)
    profit = cash + q * s
    avg_spread = spread_sum / steps
    stats = StrategyStats(
        spread=avg_spread,
        profit_mean=float(profit.mean()),
        profit_std=float(profit.std(ddof=1)) if paths > 1 else 0.0,
        q_mean=float(q.mean()),
        q_std=float(q.std(ddof=1)) if paths > 1 else 0.0,
    )
    return stats, avg_spread


def run(paths: int = 1000, seed: int = 0) -> dict[float, dict[str, StrategyStats]]:
    """Simulate both strategies for every γ of the paper; results keyed like `PAPER`."""
    if paths < 1:
        raise ValueError(f"paths must be >= 1, got {paths}")
    rng = np.random.default_rng(seed)
    out: dict[float, dict[str, StrategyStats]] = {}
    for gamma in GAMMAS:
        inv, avg_spread = _simulate(rng, paths, gamma, True, 0.0)
        sym, _ = _simulate(rng, paths, gamma, False, avg_spread)
        # A diagnostic the paper invites: the symmetric strategy at the paper's printed
        # spread, to show whether the published symmetric figures follow from that spread.
        sym_p, _ = _simulate(rng, paths, gamma, False, PAPER[gamma]["symmetric"].spread)
        out[gamma] = {"inventory": inv, "symmetric": sym, SYM_AT_PAPER_SPREAD: sym_p}
    return out


def to_json(
    results: dict[float, dict[str, StrategyStats]], paths: int, seed: int
) -> dict[str, object]:
    """One JSON-ready document: parameters, ours and the paper's figures per γ."""
    return {
        "study": "Avellaneda-Stoikov 2008 section 3.3",
        "params": {
            "s0": S0,
            "T": T,
            "sigma": SIGMA,
            "dt": DT,
            "k": K,
            "A": A,
            "paths": paths,
            "seed": seed,
        },
        "results": [
            {
                "gamma": gamma,
                "strategy": name,
                "ours": asdict(stats),
                "paper": asdict(_paper(gamma, name)),
            }
            for gamma, by_name in results.items()
            for name, stats in by_name.items()
        ],
    }


def format_table(results: dict[float, dict[str, StrategyStats]], paths: int, seed: int) -> str:
    """A plain-text table: our figures with the paper's beside them."""
    head = (
        f"Avellaneda-Stoikov (2008) §3.3 — {paths} paths, seed {seed}; "
        f"s0={S0:g} T={T:g} σ={SIGMA:g} dt={DT:g} k={K:g} A={A:g}\n"
    )
    cols = ("spread", "profit", "std(profit)", "final q", "std(q)")
    lines = [head, f"{'γ':>5} {'strategy':<22} {'source':<6} " + " ".join(f"{c:>11}" for c in cols)]
    for gamma, by_name in results.items():
        for name, stats in by_name.items():
            for source, st in (("ours", stats), ("paper", _paper(gamma, name))):
                vals = (st.spread, st.profit_mean, st.profit_std, st.q_mean, st.q_std)
                lines.append(
                    f"{gamma:>5g} {name:<22} {source:<6} " + " ".join(f"{v:>11.2f}" for v in vals)
                )
        lines.append("")
    lines.append(
        "spread: ours is the time-averaged ask−bid of AS's formula, γσ²(T−t) included; the\n"
        "paper's printed spreads equal (2/γ)ln(1+γ/k) alone for γ=0.1/0.01 (1.29, 1.33), and for\n"
        "γ=1 the printed 1.15 matches neither (1.02 / 3.03). The symmetric@paper-spread rows run\n"
        "the symmetric strategy at the printed spread to show its figures follow from it."
    )
    return "\n".join(lines)
