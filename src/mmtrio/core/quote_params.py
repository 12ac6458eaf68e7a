"""What quoting is given: the operator's parameters, the market view and the model inputs.

:class:`QuoteParams` holds the quoting layer's operator parameters and validates them on
construction (``ParameterError``), with :class:`QuoteModel` naming the pricing model;
:class:`MarketView` is what quoting needs from the book and :class:`ModelInputs` the estimated
σ, A and k. :func:`mmtrio.core.quoting.quote` turns them into a ladder of post-only quotes.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from mmtrio.core.frozen import fast_init
from mmtrio.errors import ParameterError


class QuoteModel(enum.Enum):
    AS = "AS"  # Avellaneda–Stoikov, finite (rolling) horizon
    AS_INFINITE = "AS_INFINITE"  # Avellaneda–Stoikov §2.5, stationary
    GLFT = "GLFT"  # Guéant–Lehalle–Fernandez-Tapia closed form


@fast_init
@dataclass(frozen=True, slots=True)
class MarketView:
    """What quoting needs from the book: best prices in ticks (None = side empty), mid and
    microprice as float ticks."""

    best_bid: int | None
    best_ask: int | None
    mid: float
    microprice: float


@fast_init
@dataclass(frozen=True, slots=True)
class ModelInputs:
    """Estimated model inputs (units in `mmtrio.core.models`): σ ticks/√s, A per s, k per tick.

    Not validated here on purpose: an estimator that is not warmed up may hand over NaN, and
    that must become `CannotQuote`, not an exception.
    """

    sigma: float
    a: float
    k: float


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise ParameterError(msg)


def _real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class QuoteParams:
    """Operator parameters of the quoting layer. Validated on construction (ParameterError).

    - ``gamma``: risk aversion per tick per unit of q; ``horizon_s``: the AS rolling horizon
      ``T − t`` in seconds (a perpetual has no terminal time, so the horizon rolls and the AS
      quote is stationary in time);
    - ``base_size_lots``: the unit of q and the level-0 size; ``max_inventory_lots``: the
      inventory bound (q_max of AS_INFINITE; denominator of the size reduction);
    - ``levels`` per side, ``level_spacing_ticks`` between them; level i size is
      ``base_size_lots · size_multiplier**i``;
    - ``inventory_size_reduction`` in [0, 1]: on the side that grows |inventory|, sizes are
      multiplied by ``max(0, 1 − reduction·|inventory|/max_inventory_lots)``;
    - ``inventory_skew``: scales the model's inventory-driven shift (1 = as published, 0 = none);
    - ``funding_bias``: the reference moves by ``−funding_rate·funding_bias·s``; positive
      funding (longs pay) lowers it, so we lean to selling;
    - ``min/max_half_spread_ticks``: clamp on the model's half spread;
    - ``post_only_safety_ticks``: extra distance from the opposite best;
    - ``allow_bid``/``allow_ask``: the risk layer's permission per side;
    - ``use_microprice``: reference is the microprice (default) or the mid.
    """

    model: QuoteModel
    gamma: float
    base_size_lots: int
    max_inventory_lots: int
    horizon_s: float = 60.0
    levels: int = 1
    level_spacing_ticks: int = 1
    size_multiplier: float = 1.0
    inventory_size_reduction: float = 0.0
    inventory_skew: float = 1.0
    funding_bias: float = 0.0
    min_half_spread_ticks: float = 0.0
    max_half_spread_ticks: float = 1e9
    post_only_safety_ticks: int = 0
    allow_bid: bool = True
    allow_ask: bool = True
    use_microprice: bool = True

    def __post_init__(self) -> None:
        _require(
            isinstance(self.model, QuoteModel),
            f"model must be one of {[m.value for m in QuoteModel]}, got {self.model!r}",
        )
        for name in (
            "gamma",
            "horizon_s",
            "size_multiplier",
            "inventory_size_reduction",
            "inventory_skew",
            "funding_bias",
            "min_half_spread_ticks",
            "max_half_spread_ticks",
        ):
            val = getattr(self, name)
            _require(
                _real(val) and math.isfinite(val), f"{name} must be a finite number, got {val!r}"
            )
        for name in (
            "base_size_lots",
            "max_inventory_lots",
            "levels",
            "level_spacing_ticks",
            "post_only_safety_ticks",
        ):
            val = getattr(self, name)
            _require(
                isinstance(val, int) and not isinstance(val, bool),
                f"{name} must be an integer, got {val!r}",
            )
        _require(0 < self.gamma <= 1e6, f"gamma must be in (0, 1e6] per tick, got {self.gamma}")
        _require(
            0 <= self.horizon_s <= 1e7, f"horizon_s must be in [0, 1e7] s, got {self.horizon_s}"
        )
        _require(
            self.base_size_lots >= 1, f"base_size_lots must be >= 1, got {self.base_size_lots}"
        )
        _require(
            self.max_inventory_lots >= 1,
            f"max_inventory_lots must be >= 1, got {self.max_inventory_lots}",
        )
        _require(1 <= self.levels <= 50, f"levels must be in [1, 50], got {self.levels}")
        _require(
            self.level_spacing_ticks >= 1,
            f"level_spacing_ticks must be >= 1, got {self.level_spacing_ticks}",
        )
        _require(
            0 < self.size_multiplier <= 10,
            f"size_multiplier must be in (0, 10], got {self.size_multiplier}",
        )
        _require(
            0 <= self.inventory_size_reduction <= 1,
            f"inventory_size_reduction must be in [0, 1], got {self.inventory_size_reduction}",
        )
        _require(
            0 <= self.inventory_skew <= 10,
            f"inventory_skew must be in [0, 10], got {self.inventory_skew}",
        )
        _require(
            abs(self.funding_bias) <= 1e4,
            f"funding_bias must be in [-1e4, 1e4], got {self.funding_bias}",
        )
        _require(
            0 <= self.min_half_spread_ticks <= self.max_half_spread_ticks,
            "need 0 <= min_half_spread_ticks <= max_half_spread_ticks, got "
            f"{self.min_half_spread_ticks}, {self.max_half_spread_ticks}",
        )
        _require(self.max_half_spread_ticks > 0, "max_half_spread_ticks must be > 0")
        _require(
            self.post_only_safety_ticks >= 0,
            f"post_only_safety_ticks must be >= 0, got {self.post_only_safety_ticks}",
        )
        _require(
            isinstance(self.allow_bid, bool) and isinstance(self.allow_ask, bool),
            "allow_bid and allow_ask must be booleans",
        )
