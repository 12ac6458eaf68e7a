"""What the strategy does about each kind of venue rejection: the policy, written once.

Every venue maps its own codes to a :class:`~mmtrio.core.rejects.RejectKind` in its package;
this module decides per kind, so the rule holds on every venue. The one requirement common to
all of them: **no kind loops at requote pace**. Before this policy a thin balance was refused
(insufficient margin) and re-placed every 100 ms until the runaway-rate latch tripped a minute
later; an auth or position-mode refusal looped the same way.

=====================  ==========================================================================
kind                   rule
=====================  ==========================================================================
would_cross            widen the post-only safety distance (decays after accepted places); the
                       next requote is already further from the touch. At the widest distance
                       the slot may be refused ``WOULD_CROSS_FREE`` more times (a fast market
                       moves through a quote now and then); each one more pauses it 1 s
unknown_order          nothing for a cancel or amend: the order is gone (the tracker closes
                       it); a place refused so backs the slot off
insufficient_margin    REDUCING_ONLY for a hold (30 s, doubling on repeats up to 10 min), with
                       the reason
auth                   latch the kill switch and stop the bot, naming the fix (no signed request
                       can succeed: retrying only repeats the refusal)
position_side          latch the kill switch, naming the fix (the account's position mode is
                       not one-way): no order of ours can be accepted until it is changed
reduce_only            the venue's position is not ours: ask for a reconciliation pass at once,
                       and back off the slot
invalid_price/size,    back off the slot: no new place or amend into it for 1 s, doubling per
rate_limited, local,   repeat up to 60 s, reset by an accepted place or amend in that slot;
clock_skew, unknown    pulling an order out of the slot is never delayed. (clock_skew: the
                       runtime re-measures the venue's clock offset at once and counts it; the
                       back-off gives that measurement time before the slot is tried again)
=====================  ==========================================================================

Pure: time is an argument.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from mmtrio.core.orders import Slot
from mmtrio.core.rejects import RejectKind

BACKOFF_BASE_MS: Final = 1_000
BACKOFF_MAX_MS: Final = 60_000
WOULD_CROSS_FREE: Final = 2  # would-cross refusals at the widest distance before a back-off
MARGIN_HOLD_MS: Final = 30_000
MARGIN_HOLD_MAX_MS: Final = 600_000


class RejectRule(enum.Enum):
    """What a rejection of one kind makes the strategy do (see the module table)."""

    WIDEN = "widen"
    GONE = "gone"
    MARGIN_HOLD = "margin_hold"
    STOP = "stop"
    HALT = "halt"
    RECONCILE = "reconcile"
    BACKOFF = "backoff"


POLICY: Final[Mapping[RejectKind, RejectRule]] = {
    RejectKind.WOULD_CROSS: RejectRule.WIDEN,
    RejectKind.UNKNOWN_ORDER: RejectRule.GONE,
    RejectKind.INSUFFICIENT_MARGIN: RejectRule.MARGIN_HOLD,
    RejectKind.AUTH: RejectRule.STOP,
    RejectKind.POSITION_SIDE: RejectRule.HALT,
    RejectKind.REDUCE_ONLY: RejectRule.RECONCILE,
    RejectKind.INVALID_PRICE: RejectRule.BACKOFF,
    RejectKind.INVALID_SIZE: RejectRule.BACKOFF,
    RejectKind.RATE_LIMITED: RejectRule.BACKOFF,
    RejectKind.CLOCK_SKEW: RejectRule.BACKOFF,
    RejectKind.LOCAL: RejectRule.BACKOFF,
    RejectKind.UNKNOWN: RejectRule.BACKOFF,
}

AUTH_FIX: Final = (
    "the venue refused our API credentials while trading: check the key and secret, that the "
    "key may trade futures, and its IP allow-list; then start the bot again and `mmtrio "
    "resume` (the kill switch stays latched across the restart)"
)
POSITION_MODE_FIX: Final = (
    "the venue refused an order for its position side: the account is not in one-way "
    "(net) position mode, which this strategy needs; switch the account to one-way mode "
    "(no open position needed to switch), then `mmtrio resume`"
)


def rule_for(kind: RejectKind) -> RejectRule:
    """The rule for ``kind`` (every kind has one: the table is total)."""
    return POLICY[kind]


class SlotBackoff:
    """Per quoting slot: after a refusal, no place/amend into the slot until a deadline.

    The delay starts at ``base_ms`` and doubles with every refusal until ``max_ms``; an
    accepted place or amend in the slot clears it. Bounded: one entry per slot.
    """

    __slots__ = ("_base", "_max", "_state", "_strikes")

    def __init__(self, base_ms: int = BACKOFF_BASE_MS, max_ms: int = BACKOFF_MAX_MS) -> None:
        self._base, self._max = base_ms, max_ms
        self._state: dict[Slot, tuple[int, int]] = {}  # slot -> (until, last delay)
        self._strikes: dict[Slot, int] = {}  # slot -> tolerated refusals since an accept

    def strike(self, slot: Slot, now: int, free: int) -> int | None:
        """A refusal that is tolerated ``free`` times in a row (until an accept): None while
        it is, else a pause of ``base_ms`` (ms; not doubled: a fast market keeps moving
        through quotes, and a longer pause only leaves the book unquoted)."""
        n = self._strikes.get(slot, 0) + 1
        self._strikes[slot] = n
        if n <= free:
            return None
        self._state[slot] = (now + self._base, self._base)
        return self._base

    def on_reject(self, slot: Slot, now: int) -> int:
        """A place or amend into ``slot`` was refused at ``now``; returns the delay (ms)."""
        prev = self._state.get(slot)
        delay = self._base if prev is None else min(prev[1] * 2, self._max)
        self._state[slot] = (now + delay, delay)
        return delay

    def on_accept(self, slot: Slot) -> None:
        self._state.pop(slot, None)
        self._strikes.pop(slot, None)

    def until(self, slot: Slot) -> int | None:
        entry = self._state.get(slot)
        return None if entry is None else entry[0]

    def paced(self, last_action: Mapping[Slot, int], interval_ms: int) -> Mapping[Slot, int]:
        """``last_action`` with each backed-off slot's last action moved so that requote
        pacing (``last + interval_ms``) holds it until its deadline: placing and amending wait,
        cancelling does not (the slot reconciler never delays a removal)."""
        if not self._state:
            return last_action
        out = dict(last_action)
        for slot, (until, _) in self._state.items():
            out[slot] = max(out.get(slot, until - interval_ms), until - interval_ms)
        return out


class MarginHold:
    """REDUCING_ONLY for a while after the venue refused an order for insufficient margin.

    The hold starts at ``MARGIN_HOLD_MS`` and doubles when the venue refuses again within a
    hold's length after the previous one ended (up to ``MARGIN_HOLD_MAX_MS``).
    """

    __slots__ = ("_delay", "_reason", "_until")

    def __init__(self) -> None:
        self._until: int | None = None
        self._delay = 0
        self._reason = ""

    def hold(self, now: int, reason: str) -> int:
        """Refused for margin at ``now``; returns the hold's length (ms)."""
        recent = self._until is not None and now < self._until + self._delay
        self._delay = min(self._delay * 2, MARGIN_HOLD_MAX_MS) if recent else MARGIN_HOLD_MS
        self._until = now + self._delay
        self._reason = reason
        return self._delay

    def active(self, now: int) -> str | None:
        """The reason while the hold lasts, else None."""
        if self._until is None or now >= self._until:
            return None
        return (
            f"insufficient margin ({self._reason}): reducing only for "
            f"{(self._until - now) / 1000:.0f} s more"
        )


__all__ = [
    "AUTH_FIX",
    "POLICY",
    "POSITION_MODE_FIX",
    "WOULD_CROSS_FREE",
    "MarginHold",
    "RejectRule",
    "SlotBackoff",
    "rule_for",
]
