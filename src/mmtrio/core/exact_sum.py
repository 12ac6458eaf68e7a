"""A sliding window of floats whose sum is ``math.fsum`` of the window, read in O(1).

:class:`ExactSum` keeps the window's floats (appended at the right, dropped at the left, as
a deque) and their exact sum as an integer: every finite float is a whole multiple of
2**-1074 (the smallest subnormal), so ``x * 2**1074`` is an integer and sums of such
integers are exact. :meth:`ExactSum.fsum` divides that integer by 2**1074, a correctly
rounded int division (round half to even), and ``math.fsum`` is the correctly rounded sum
too: the very same float, without the pass over the window ``math.fsum`` makes on every read.
While the window holds an inf, a nan or a negative zero (whose sum's sign is ``math.fsum``'s
own business), the read is ``math.fsum`` of the window itself, so even that answer (or error)
is unchanged.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

_SHIFT: Final = 1074  # 2**-1074: the smallest positive float (subnormal)
_ONE: Final = 1 << _SHIFT  # 1.0 in the exact integer sum's units


def _scaled(x: float) -> int:
    """``x * 2**1074`` exactly (``x`` finite): its numerator over a power of two."""
    num, den = x.as_integer_ratio()
    return num << (_SHIFT - den.bit_length() + 1)


class ExactSum:
    """The floats of a window, oldest first, and ``math.fsum`` of them (module docstring)."""

    __slots__ = ("_items", "_special", "_total")

    def __init__(self) -> None:
        self._items: deque[float] = deque()
        self._total = 0  # the exact sum of the other items, in units of 2**-1074
        self._special = 0  # items that are inf, nan or -0.0 (module docstring)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def append(self, x: float) -> None:
        """Add ``x`` as the newest item."""
        self._items.append(x)
        if x and math.isfinite(x):
            self._total += _scaled(x)
        elif x != 0.0 or math.copysign(1.0, x) < 0:
            self._special += 1

    def popleft(self) -> float:
        """Drop the oldest item and return it."""
        x = self._items.popleft()
        if x and math.isfinite(x):
            self._total -= _scaled(x)
        elif x != 0.0 or math.copysign(1.0, x) < 0:
            self._special -= 1
        return x

    def fsum(self) -> float:
        """``math.fsum`` of the items, to the bit."""
        if self._special:
            return math.fsum(self._items)
        return self._total / _ONE


__all__ = ["ExactSum"]
