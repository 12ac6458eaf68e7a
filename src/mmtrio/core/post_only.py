"""The adaptive post-only safety distance: how far from the opposite best our quotes stay.

Would-cross rejections widen it fast, accepted post-only orders narrow it slowly; quoting
(:func:`mmtrio.core.quoting.quote`) takes its current ``ticks`` as the post-only safety.
"""

from __future__ import annotations

from mmtrio.errors import ParameterError


class PostOnlySafety:
    """Adaptive post-only safety distance, in ticks.

    A would-cross rejection of a post-only order means the book moved through our price
    between decision and arrival: the distance doubles (at least +1, capped at
    ``max_ticks``). Each run of ``decay_after`` accepted post-only orders takes one tick
    back, never below
    ``base_ticks``. Doubling reacts fast to a fast market; the slow decay avoids flapping.
    """

    __slots__ = ("_successes", "_ticks", "base_ticks", "decay_after", "max_ticks")

    def __init__(self, base_ticks: int, max_ticks: int, decay_after: int) -> None:
        if not 0 <= base_ticks <= max_ticks:
            raise ParameterError(
                f"need 0 <= base_ticks <= max_ticks, got {base_ticks}, {max_ticks}"
            )
        if decay_after < 1:
            raise ParameterError(f"decay_after must be >= 1 success, got {decay_after}")
        self.base_ticks = base_ticks
        self.max_ticks = max_ticks
        self.decay_after = decay_after
        self._ticks = base_ticks
        self._successes = 0

    @property
    def ticks(self) -> int:
        return self._ticks

    def on_reject(self) -> None:
        """A post-only order was rejected as would-cross: widen."""
        self._ticks = min(self.max_ticks, max(self._ticks * 2, self._ticks + 1))
        self._successes = 0

    def on_success(self) -> None:
        """A post-only order was accepted: count towards one tick of decay."""
        self._successes += 1
        if self._successes >= self.decay_after:
            self._successes = 0
            self._ticks = max(self.base_ticks, self._ticks - 1)
