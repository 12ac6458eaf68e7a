"""Online market estimators: volatility, trend, microprice and order-arrival intensity.

Conventions shared by every estimator here:

- time is an int millisecond argument (no clock reads); samples may arrive at irregular
  intervals and every estimator is written so that irregular sampling gives the same answer
  in expectation as regular sampling;
- prices are floats in whatever unit the caller feeds (ticks inside the core); the results
  are in that same unit (a volatility fed ticks is in ticks);
- a NaN, infinite, zero or negative price, or a time going backwards, raises
  :class:`~mmtrio.errors.ParameterError`;
- warm-up is explicit: an estimate is either a number or a :class:`NotEnoughData` saying
  what is missing (``have`` of ``need``). No estimator returns a made-up default.

Each family has its own module, and every name is re-exported here:
:mod:`~mmtrio.core.estimator_base` (:class:`NotEnoughData`, the input checks),
:mod:`~mmtrio.core.volatility` (:class:`EwmaVolatility`, :class:`RealizedVolatility`),
:mod:`~mmtrio.core.trend` (:class:`TrendEma`), :mod:`~mmtrio.core.microprice`
(:func:`microprice`) and :mod:`~mmtrio.core.intensity` (:class:`IntensityEstimator` and its
results).
"""

from __future__ import annotations

from mmtrio.core.estimator_base import NotEnoughData
from mmtrio.core.intensity import (
    FitRejected,
    IntensityEstimator,
    IntensityFit,
    IntensityParams,
)
from mmtrio.core.microprice import microprice
from mmtrio.core.trend import TrendEma
from mmtrio.core.volatility import EwmaVolatility, RealizedVolatility

__all__ = [
    "EwmaVolatility",
    "FitRejected",
    "IntensityEstimator",
    "IntensityFit",
    "IntensityParams",
    "NotEnoughData",
    "RealizedVolatility",
    "TrendEma",
    "microprice",
]
