"""Repeated log lines, collapsed: the first of a kind is logged, the rest counted.

During a long rate-limit back-off the strategy's every quote attempt is refused locally
("rate budget exhausted ...") — ten INFO lines a second saying the same thing would bury the
one line the operator needs. The journal still records every notice; only the log is
collapsed. The key ignores numbers (waits, prices, client-id counters), so "the same thing"
means the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NUMBERS = re.compile(r"-?\d+(\.\d+)?")


def repeat_key(text: str) -> str:
    """``text`` with every number replaced: lines that differ only in numbers share a key."""
    return _NUMBERS.sub("#", text)


@dataclass
class _Seen:
    logged_ms: int
    suppressed: int = 0


@dataclass
class RepeatLimiter:
    """Admits one line per key per ``window_ms``; says how many it held back meanwhile."""

    window_ms: int = 10_000
    max_keys: int = 256
    _seen: dict[str, _Seen] = field(default_factory=dict)

    def admit(self, key: str, now_ms: int) -> int | None:
        """None: hold this line back. An int: log it; that many like it were held back."""
        seen = self._seen.get(key)
        if seen is not None and now_ms - seen.logged_ms < self.window_ms:
            seen.suppressed += 1
            return None
        held = 0 if seen is None else seen.suppressed
        if seen is None and len(self._seen) >= self.max_keys:
            self._forget(now_ms)
        self._seen[key] = _Seen(now_ms)
        return held

    def _forget(self, now_ms: int) -> None:
        # Keys whose window is over carry nothing worth keeping but their held-back count,
        # which is dropped with them (bounded memory beats an exact tally of old noise).
        for key in [k for k, s in self._seen.items() if now_ms - s.logged_ms >= self.window_ms]:
            del self._seen[key]
        if len(self._seen) >= self.max_keys:
            del self._seen[next(iter(self._seen))]
