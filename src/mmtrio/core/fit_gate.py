"""The fill-quality gate on the intensity fit: a poor fit is not quoted on.

:class:`~mmtrio.core.intensity.IntensityEstimator` fits ``ln λ(δ) = ln A − kδ`` by least
squares over the tail counts. A straight line can be fitted through anything: when the depth
profile of recent market orders is not exponential (a few sweeps, a one-sided burst), the
fitted (A, k) describe no market and the GLFT spread built on them is arbitrary. The
coefficient of determination ``r²`` of that regression says how much of the variation of
``ln λ`` the line explains; below ``estimators.min_fit_r2`` the fit is refused and the
configured fallback (A, k) — the figures ``mmtrio calibrate`` fits on whole recordings — is
quoted on instead, with a notice naming the r².

Decisions:

- the fallback is the configured one, not the last accepted fit: a fit that was good minutes
  ago describes a market that has just changed (that is why the new one is poor);
- ``min_fit_r2 = 0`` accepts every fit the estimator accepts (k > 0), as before.
"""

from __future__ import annotations

from mmtrio.core.intensity import FitRejected, IntensityFit, IntensityParams


def gate_fit(
    params: IntensityParams, min_r2: float, fallback_a: float, fallback_k: float
) -> IntensityParams:
    """``params`` unless it is a fit whose r² is below ``min_r2``: then the fallback."""
    fit = params.detail
    if params.source != "fit" or not isinstance(fit, IntensityFit) or fit.r2 >= min_r2:
        return params
    return IntensityParams(
        a=fallback_a,
        k=fallback_k,
        source="fallback",
        detail=FitRejected(
            f"fit r² {fit.r2:.3f} below estimators.min_fit_r2 {min_r2:g} "
            f"(A {fit.a:.3g}/s, k {fit.k:.3g}/tick on {fit.n} arrivals)"
        ),
    )


__all__ = ["gate_fit"]
