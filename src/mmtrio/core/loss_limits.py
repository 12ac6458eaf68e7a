"""Loss limits on the bot's *total* equity, carried across restarts: drawdown, daily, cumulative.

The ledger's equity starts again in every process (it is rebuilt from the journal's last
checkpoint), so a limit judged on it alone would hand out a fresh budget at every restart: a
systemd ``Restart=on-failure`` loop could lose ``max_drawdown`` again and again. The limits
here are judged on the **total equity** ``offset + session equity``; what a restart needs to
continue (the total, its peak, the day's opening total, the cumulative base, the latched
breaches and the kill switch) is :class:`LimitsState`, which the strategy hands to the runtime
to journal (a ``risk_state`` record) and which a restart restores before anything is quoted.

Restoring (:meth:`LossLimits.restore`): the journal's last state says "total ``X`` while the
books held position ``P`` valued at price ``M``". The restarted ledger has been rebuilt to the
same books (recovery replays the journaled fills; a state is journaled with every fill), so
the offset is chosen to make the new total equal ``X`` *at the same price M*; from then on the
market move since ``M`` (while the bot was down too) and every later fill count. A fill the
venue reports that the journal missed is booked afterwards and counts like any other.

The three limits (each latches the kill switch; resuming needs the operator's explicit
override, which restarts that limit's base at the current total, see :meth:`rebase`):

- **drawdown**: the total's drop from its running peak (``max_drawdown``);
- **daily loss**: the drop from the total at the start of the trading day (UTC, beginning at
  ``day_start_hour_utc``; ``max_daily_loss``);
- **cumulative loss**: the drop below the cumulative base, zero when the journal began or
  when the operator last overrode this limit (``max_cumulative_loss``).

Pure: time is an argument (epoch ms: the day boundary is computed from it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final

from mmtrio.core.figures import money, utc_iso
from mmtrio.core.guards import DrawdownTracker
from mmtrio.errors import ParameterError

DAY_MS: Final = 86_400_000
HOUR_MS: Final = 3_600_000
LATCHED_SUFFIX: Final = " (latched before the restart)"
BREACH_KINDS: Final = ("drawdown", "daily", "cumulative")
_ZERO = Decimal(0)


def positive_money(val: object) -> bool:
    return isinstance(val, Decimal) and val.is_finite() and val > 0


def trading_day(now_ms: int, day_start_hour_utc: int) -> int:
    """The trading day ``now_ms`` falls in: days since the epoch, each starting at the hour."""
    return (now_ms - day_start_hour_utc * HOUR_MS) // DAY_MS


@dataclass(frozen=True, slots=True)
class LimitsState:
    """What a restart needs to continue the limits (journaled as a ``risk_state`` record).

    ``total``: total equity at ``ts``, with the books at ``position_lots`` valued at
    ``valued_at`` (None: no price yet, the position was flat or unvalued). ``peak`` is the
    drawdown peak, ``day``/``day_start`` the trading day and its opening total,
    ``cumulative_base`` the total the cumulative loss is measured from. ``breaches``: the
    latched limit reasons by limit (``drawdown``, ``daily``, ``cumulative``).
    ``kill_reason``/``kill_flatten``: the latched kill switch, whatever tripped it.
    """

    ts: int
    total: Decimal
    position_lots: int
    valued_at: Decimal | None
    peak: Decimal | None
    day: int
    day_start: Decimal
    cumulative_base: Decimal
    breaches: tuple[tuple[str, str], ...] = ()  # (limit, reason), see BREACH_KINDS
    kill_reason: str | None = None
    kill_flatten: bool = False
    # the prices the fees paid in other assets were valued at in ``total`` (asset, price)
    asset_prices: tuple[tuple[str, Decimal], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (money as strings, exact)."""
        return {
            "ts": self.ts,
            "total": str(self.total),
            "position_lots": self.position_lots,
            "valued_at": None if self.valued_at is None else str(self.valued_at),
            "peak": None if self.peak is None else str(self.peak),
            "day": self.day,
            "day_start": str(self.day_start),
            "cumulative_base": str(self.cumulative_base),
            "breaches": dict(self.breaches),
            "kill_reason": self.kill_reason,
            "kill_flatten": self.kill_flatten,
            "asset_prices": {a: str(p) for a, p in self.asset_prices},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LimitsState:
        """The inverse of :meth:`to_json`; ParameterError naming the field that is wrong."""
        try:
            valued, peak = data.get("valued_at"), data.get("peak")
            state = cls(
                ts=int(data["ts"]),
                total=Decimal(str(data["total"])),
                position_lots=int(data["position_lots"]),
                valued_at=None if valued is None else Decimal(str(valued)),
                peak=None if peak is None else Decimal(str(peak)),
                day=int(data["day"]),
                day_start=Decimal(str(data["day_start"])),
                cumulative_base=Decimal(str(data["cumulative_base"])),
                breaches=tuple(
                    (str(k), str(v)) for k, v in dict(data.get("breaches") or {}).items()
                ),
                kill_reason=None if data.get("kill_reason") is None else str(data["kill_reason"]),
                kill_flatten=bool(data.get("kill_flatten", False)),
                asset_prices=tuple(
                    (str(a), Decimal(str(p)))
                    for a, p in sorted(dict(data.get("asset_prices") or {}).items())
                ),
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ParameterError(
                f"risk state record is malformed ({type(exc).__name__}: {exc}): {data!r}"
            ) from exc
        for name in ("total", "day_start", "cumulative_base"):
            if not getattr(state, name).is_finite():
                raise ParameterError(f"risk state record: {name} is not finite: {data!r}")
        if any(not (p.is_finite() and p > 0) for _, p in state.asset_prices):
            raise ParameterError(f"risk state record: an asset price is not positive: {data!r}")
        unknown = {k for k, _ in state.breaches} - set(BREACH_KINDS)
        if unknown:
            raise ParameterError(f"risk state record: unknown limits {sorted(unknown)}: {data!r}")
        return state


@dataclass(slots=True)
class _Latches:
    daily: str | None = None
    cumulative: str | None = None


class LossLimits:
    """Drawdown, daily and cumulative loss on the total equity; see the module docstring."""

    def __init__(
        self,
        max_drawdown: Decimal,
        max_daily_loss: Decimal | None = None,
        max_cumulative_loss: Decimal | None = None,
        day_start_hour_utc: int = 0,
    ) -> None:
        for name, val in (
            ("max_daily_loss", max_daily_loss),
            ("max_cumulative_loss", max_cumulative_loss),
        ):
            if val is not None and not positive_money(val):
                raise ParameterError(
                    f"{name} must be a positive finite Decimal or None, got {val!r}"
                )
        if isinstance(day_start_hour_utc, bool) or not 0 <= day_start_hour_utc <= 23:
            raise ParameterError(f"day_start_hour_utc must be 0..23, got {day_start_hour_utc!r}")
        self.drawdown = DrawdownTracker(max_drawdown)
        self.max_daily_loss = max_daily_loss
        self.max_cumulative_loss = max_cumulative_loss
        self.day_start_hour_utc = day_start_hour_utc
        self.offset = _ZERO
        self.total: Decimal | None = None
        self.day: int | None = None
        self.day_start = _ZERO
        self.cumulative_base = _ZERO
        self._latches = _Latches()
        # breaches found outside update() (a reload's new drawdown limit applied to the
        # current peak and equity), reported by the next update() so the caller trips on them
        self._unreported: list[str] = []
        # (session equity, offset, total) of the last update: see update()
        self._last_update: tuple[Decimal, Decimal, Decimal] | None = None

    # --- reading -----------------------------------------------------------------------------
    @property
    def breached(self) -> tuple[tuple[str, str], ...]:
        """Every latched limit breach as (limit, reason), drawdown first."""
        lat = self._latches
        reasons = (self.drawdown.breach_reason, lat.daily, lat.cumulative)
        if reasons == (None, None, None):
            return ()  # the usual answer, read every decision (limits_checkpoint)
        pairs = zip(BREACH_KINDS, reasons, strict=True)
        return tuple((kind, reason) for kind, reason in pairs if reason is not None)

    @property
    def breaches(self) -> tuple[str, ...]:
        """The reasons of every latched limit breach, drawdown first."""
        breached = self.breached
        return tuple(reason for _, reason in breached) if breached else ()

    @property
    def daily_loss(self) -> Decimal:
        """The drop of the total since the trading day began (≥ 0 when losing)."""
        return _ZERO if self.total is None else self.day_start - self.total

    @property
    def cumulative_loss(self) -> Decimal:
        """The drop of the total below the cumulative base (≥ 0 when losing)."""
        return _ZERO if self.total is None else self.cumulative_base - self.total

    # --- updating ----------------------------------------------------------------------------
    def update(self, session_equity: Decimal, now: int) -> list[str]:
        """Take the session's equity at ``now``; the reasons of limits newly breached."""
        # Every decision passes here and the ledger hands the very same equity object until
        # a fill or a mark moves it. The same equity and offset objects on the same trading
        # day, with nothing written since (the total and the drawdown's equity are still this
        # update's objects, nothing unreported), give the same total, and every check below
        # the same answer as last time: no new breach, and nothing to write.
        last = self._last_update
        if (
            last is not None
            and last[0] is session_equity
            and last[1] is self.offset
            and last[2] is self.total
            and self.drawdown.equity is last[2]
            and not self._unreported
            and trading_day(now, self.day_start_hour_utc) == self.day
        ):
            return []
        total = self.offset + session_equity
        self.total = total
        day = trading_day(now, self.day_start_hour_utc)
        if self.day is None or day > self.day:
            self.day, self.day_start = day, total
        new, self._unreported = self._unreported, []
        if self.drawdown.update(total, now):
            new.append(self.drawdown.breach_reason or "drawdown breach")
        lat = self._latches
        if (
            lat.daily is None
            and self.max_daily_loss is not None
            and self.daily_loss > self.max_daily_loss
        ):
            lat.daily = (
                f"daily loss {money(self.daily_loss, signed=False)} exceeds the limit "
                f"{money(self.max_daily_loss, signed=False)} (day opened at "
                f"{money(self.day_start)}, equity {money(total)}) at {utc_iso(now)}"
            )
            new.append(lat.daily)
        if (
            lat.cumulative is None
            and self.max_cumulative_loss is not None
            and self.cumulative_loss > self.max_cumulative_loss
        ):
            lat.cumulative = (
                f"cumulative loss {money(self.cumulative_loss, signed=False)} exceeds the "
                f"limit {money(self.max_cumulative_loss, signed=False)} (equity "
                f"{money(total)}, base {money(self.cumulative_base)}) at {utc_iso(now)}"
            )
            new.append(lat.cumulative)
        self._last_update = (session_equity, self.offset, total)
        return new

    def rebase(self) -> None:
        """Operator override: accept the losses so far; every breached limit restarts from the
        current total (drawdown peak, day opening, cumulative base) and its latch clears."""
        lat = self._latches
        self._last_update = None
        if self.drawdown.breached:
            self.drawdown.rebase()
        if self.total is not None:
            if lat.daily is not None:
                self.day_start = self.total
            if lat.cumulative is not None:
                self.cumulative_base = self.total
        self._latches = _Latches()

    # --- persistence -------------------------------------------------------------------------
    def state(
        self,
        now: int,
        *,
        position_lots: int,
        valued_at: Decimal | None,
        kill_reason: str | None,
        kill_flatten: bool,
        asset_prices: tuple[tuple[str, Decimal], ...] = (),
    ) -> LimitsState:
        """What a restart needs (see :class:`LimitsState`)."""
        total = self.total if self.total is not None else self.offset
        return LimitsState(
            ts=now,
            total=total,
            position_lots=position_lots,
            valued_at=valued_at,
            peak=self.drawdown.peak,
            day=self.day if self.day is not None else trading_day(now, self.day_start_hour_utc),
            day_start=self.day_start if self.day is not None else total,
            cumulative_base=self.cumulative_base,
            breaches=self.breached,
            kill_reason=kill_reason,
            kill_flatten=kill_flatten,
            asset_prices=asset_prices,
        )

    def restore(self, state: LimitsState, session_equity_then: Decimal) -> None:
        """Continue from ``state``: ``session_equity_then`` is the rebuilt ledger's equity at
        ``state.valued_at`` (the price the state was valued at), so the new total equals the
        old one at that price. Breaches stay latched (their reasons are kept)."""
        self._last_update = None
        self.offset = state.total - session_equity_then
        self.total = state.total
        if state.peak is not None:
            self.drawdown.update(state.peak, state.ts)
        self.drawdown.update(state.total, state.ts)
        self.day, self.day_start = state.day, state.day_start
        self.cumulative_base = state.cumulative_base
        # A breach before the restart stays a breach, whatever the limits are now: only the
        # operator's override clears it (the reason says it came from an earlier process).
        for kind, reason in state.breaches:
            said = reason if reason.endswith(LATCHED_SUFFIX) else reason + LATCHED_SUFFIX
            if kind == "drawdown":
                self.drawdown.latch(said)
            elif kind == "daily":
                self._latches.daily = said
            else:
                self._latches.cumulative = said

    def retuned(
        self,
        max_drawdown: Decimal,
        max_daily_loss: Decimal | None,
        max_cumulative_loss: Decimal | None,
        day_start_hour_utc: int,
        *,
        now: int,
    ) -> LossLimits:
        """A copy under new limits (a reload at ``now``): totals, bases and latches carry
        over; a new drawdown limit applies from the current peak. A drawdown already over a
        lowered limit is a breach dated ``now`` (the reload), reported by the next
        :meth:`update` like any other (the caller trips the kill switch on it), not merely
        recorded."""
        new = LossLimits(max_drawdown, max_daily_loss, max_cumulative_loss, day_start_hour_utc)
        new._unreported = list(self._unreported)
        if max_drawdown == self.drawdown.max_drawdown:
            new.drawdown = self.drawdown
        else:
            old = self.drawdown.breach_reason
            newly = False
            if self.drawdown.peak is not None:
                newly = new.drawdown.update(self.drawdown.peak, now) or newly
            if self.drawdown.equity is not None:
                newly = new.drawdown.update(self.drawdown.equity, now) or newly
            # A reload never clears a latch: a breach of the old limit stays one.
            if old is not None and not new.drawdown.breached:
                new.drawdown.latch(old)
            elif newly and old is None and new.drawdown.breach_reason is not None:
                new._unreported.append(new.drawdown.breach_reason)
        new.offset, new.total = self.offset, self.total
        new.day, new.day_start = self.day, self.day_start
        new.cumulative_base = self.cumulative_base
        new._latches = replace(self._latches)
        return new


__all__ = ["DAY_MS", "LATCHED_SUFFIX", "LimitsState", "LossLimits", "trading_day"]
