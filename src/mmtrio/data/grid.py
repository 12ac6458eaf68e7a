"""Prices and sizes of imported data onto an instrument's integer grid, exactly.

Third-party files give decimal strings (Tardis CSV) or floats (hftbacktest arrays); the store
holds integer ticks and lots. :class:`GridGuess` infers the finest steps from the data (the
greatest common step of what it saw) when the user gives none; :func:`to_steps` converts one
value and refuses one that is not a whole number of steps, naming where it came from.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from math import gcd

from mmtrio.errors import DataFileError


class GridGuess:
    """Greatest common step of positive decimal values (integers at the finest scale)."""

    def __init__(self) -> None:
        self.decimals = 0
        self.step = 0

    def add(self, text: str, where: str) -> None:
        try:
            dec = Decimal(text)
        except InvalidOperation:
            raise DataFileError(f"{where}: {text!r} is not a decimal number") from None
        if not dec.is_finite() or dec <= 0:
            return
        exp = dec.normalize().as_tuple().exponent
        places = max(0, -exp) if isinstance(exp, int) else 0
        if places > self.decimals:
            self.step *= 10 ** (places - self.decimals)
            self.decimals = places
        self.step = gcd(self.step, int(dec.scaleb(self.decimals)))

    def size(self) -> Decimal | None:
        if self.step == 0:
            return None
        return Decimal(self.step).scaleb(-self.decimals)


def to_steps(text: str, step: Decimal, where: str, what: str) -> int:
    """``text`` as a whole number of ``step``; DataFileError otherwise."""
    try:
        q, r = divmod(Decimal(text), step)
    except (InvalidOperation, ValueError):
        raise DataFileError(f"{where}: {what} {text!r} is not a decimal number") from None
    if r != 0:
        raise DataFileError(
            f"{where}: {what} {text} is not a whole number of {step}; give the instrument's "
            "step (--tick/--lot) or check the file"
        )
    return int(q)


def float_to_steps(value: float, step: float, where: str, what: str) -> int:
    """A float price or size as whole steps (within 1e-6 of a step), else DataFileError."""
    n = round(value / step)
    if abs(value / step - n) > 1e-6:
        raise DataFileError(
            f"{where}: {what} {value!r} is not a whole number of {step!r}; give the "
            "instrument's step (--tick/--lot)"
        )
    return int(n)


def float_step(values: list[float]) -> Decimal | None:
    """The greatest common step of float values printed with at most 10 decimals."""
    guess = GridGuess()
    for v in values:
        if v > 0:
            guess.add(f"{v:.10f}".rstrip("0").rstrip("."), "data")
    return guess.size()
