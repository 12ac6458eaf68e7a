"""Validation helpers shared by the config sections: a positive size, and one error per section.

A section's cross-field rules collect their problems and raise them together with :func:`_fail`.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ValidationInfo


def _positive_size(value: Decimal, info: ValidationInfo) -> Decimal:
    """A base-asset quantity must be positive and finite; its lot grid is the venue's.

    The instrument (and so the lot step and minimum size) is read from the venue at start, or
    from the recording in paper mode and backtests: sizes are checked against it there
    (:func:`mmtrio.config.strategy.build_strategy_config`), with the key named.
    """
    if not value.is_finite() or value <= 0:
        raise PydanticCustomError("not_positive", "must be a positive number", {})
    return value


def _fail(problems: list[str]) -> None:
    """Raise one error carrying every cross-field problem of a section."""
    if problems:
        raise PydanticCustomError("cross_field", "{problems}", {"problems": "; ".join(problems)})
