"""The status screen's panels: header, market, position, P&L, quotes, health, fills and
alerts rendered from a :class:`~mmtrio.runtime.screen_view.StatusView` into an 80×24 layout,
and the one-line form for logs (see runtime/screen.py for how and where they are drawn)."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mmtrio import units
from mmtrio.core.events import Side
from mmtrio.core.instruments import Instrument
from mmtrio.core.notices import Notice, StrategyStatus
from mmtrio.core.risk import InventoryBand, TradingState
from mmtrio.runtime.screen_view import StatusView
from mmtrio.runtime.supervisor import ChildState

# Rows budget (24 lines): header 1, market 1, position 1, P&L 2, quotes title+header 2, quotes
# QUOTE_ROWS, health 3, fills/alerts title 1 + FEED_ROWS. Long ladders show their best levels
# per side: the ones nearest the touch are the ones that fill.
QUOTE_ROWS_PER_SIDE = 3
FEED_ROWS = 4
WIDTH = 80
FILLS_WIDTH = 30  # the fills column; alerts get the rest of the line, wrapped, in full
ALERT_TTL_MS = 120_000  # an alert older than this leaves the screen (the log keeps it)
LEGEND = "q/t order msgs per fill · queue ahead: size before ours · M/T maker/taker"

_STATE_STYLE = {
    TradingState.ACTIVE: "bold green",
    TradingState.REDUCING_ONLY: "bold yellow",
    TradingState.HALTED: "bold white on red",
}
_BAND_STYLE = {
    InventoryBand.NORMAL: "green",
    InventoryBand.WARN: "yellow",
    InventoryBand.CRITICAL: "bold yellow",
    InventoryBand.HARD: "bold red",
}
_CHILD_MARK = {
    ChildState.RUNNING: ("✓", "green"),
    ChildState.STARTING: ("…", "yellow"),
    ChildState.BACKING_OFF: ("↻", "yellow"),
    ChildState.STOPPED: ("■", "dim"),
    ChildState.FAILED: ("✗", "bold red"),
}


# --- formatting helpers ----------------------------------------------------------------------


def _money(value: Decimal) -> str:
    # The one money format (to the cent, no "-0.00"): the screen agrees with `status`.
    return units.money(value)


def _unsigned(value: Decimal) -> str:
    return units.money(value, signed=False)


def _age(ms: int | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms}ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f}s"
    return f"{ms // 60_000}m"


def _latency(us: int | None) -> str:
    if us is None:
        return "—"
    return f"{us}µs" if us < 10_000 else f"{us / 1000:.0f}ms"


def _mid_price(inst: Instrument, mid_ticks: float) -> str:
    # The mid is a whole or half tick: exact in Decimal, with the decimals a half tick needs
    # (0.10 → 0.05: two, as prices; 0.01 → 0.005: three).
    half_ticks = round(mid_ticks * 2)
    price = inst.ticks_to_price(half_ticks) / 2
    exponent = (inst.tick_size / 2).normalize().as_tuple().exponent
    decimals = max(inst.price_decimals, -exponent if isinstance(exponent, int) else 0)
    return f"{price:.{decimals}f}"


def _cell(text: str, style: str = "") -> Text:
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def styled_line(*parts: tuple[str, str] | str) -> Text:
    """One screen line that never wraps: too long for the width is cut with an ellipsis."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        else:
            text.append(part[0], style=part[1])
    return text


def _notice_int(notice: Notice, key: str) -> int | None:
    value = notice.data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- sections ----------------------------------------------------------------------------------


def side_off(st: StrategyStatus, inst: Instrument, max_position_lots: int | None) -> str | None:
    """Why one side is not quoted while the state is ACTIVE, or None when both can be.

    The guards can say "all risk checks clear" while the position limit keeps the increasing
    side off: the inventory band is CRITICAL/HARD (reducing side only), or the position is so
    near ``risk.max_position`` that one more quote would pass it (the order check refuses it).
    """
    pos = st.position_lots
    if pos == 0:
        return None
    side = "BUY" if pos > 0 else "SELL"
    quoted = {q.side.value for q in st.quotes}
    limit = "" if max_position_lots is None else f"/{inst.lots_to_base(max_position_lots)}"
    where = f"position {inst.lots_to_base(pos):+}{limit} {inst.base_asset}"
    if st.band in (InventoryBand.CRITICAL, InventoryBand.HARD):
        return f"{side} side off: {st.band.value} {where}"
    if max_position_lots is not None and side not in quoted and quoted:
        size = max(q.qty for q in st.quotes)
        if abs(pos) + size > max_position_lots:
            return f"{side} side off: at the limit, {where}"
    return None


def _header(view: StatusView, st: StrategyStatus) -> Text:
    state = st.trading_state
    reason = st.cannot_quote or st.reason
    label, style = state.value, _STATE_STYLE.get(state, "bold")
    stopping = getattr(view, "stopping", None)
    if stopping:
        label, style, reason = (
            "STOPPING",
            "bold white on blue",
            f"cancelling all orders: {stopping}",
        )
    elif state is TradingState.ACTIVE and not st.cannot_quote:
        off = side_off(st, view.instrument, getattr(view, "max_position_lots", None))
        if off is not None:
            style, reason = "bold black on yellow", off
    return styled_line(
        ("mmtrio ", "bold"),
        (view.instrument.symbol, "bold cyan"),
        "  ",
        (f" {label} ", style),
        "  ",
        (reason, "italic"),
    )


def _market(inst: Instrument, st: StrategyStatus) -> Text:
    bid = "—" if st.best_bid is None else inst.price_str(st.best_bid)
    ask = "—" if st.best_ask is None else inst.price_str(st.best_ask)
    mid = "—" if st.mid is None else _mid_price(inst, st.mid)
    spread = "—" if st.best_bid is None or st.best_ask is None else f"{st.best_ask - st.best_bid}t"
    sync = ("synced", "green") if st.book_synced else ("OUT OF SYNC", "bold red")
    return styled_line(
        ("bid ", "dim"),
        (bid, "green"),
        ("  ask ", "dim"),
        (ask, "red"),
        ("  mid ", "dim"),
        mid,
        ("  spr ", "dim"),
        spread,
        ("  book ", "dim"),
        sync,
        ("  age ", "dim"),
        _age(st.book_age_ms),
    )


def _position(inst: Instrument, st: StrategyStatus) -> Text:
    led = st.ledger
    qty = inst.lots_to_base(st.position_lots)
    entry = "—" if st.position_lots == 0 else f"{st.entry_price:.{inst.price_decimals}f}"
    return styled_line(
        ("pos ", "dim"),
        (f"{qty:+}", "bold"),
        f" @ {entry}",
        ("  band ", "dim"),
        (st.band.value, _BAND_STYLE.get(st.band, "")),
        ("  fills ", "dim"),
        str(led.fills),
        ("  q/t ", "dim"),
        f"{st.quote_to_trade:.0f}",
    )


def _pnl(st: StrategyStatus) -> list[Text]:
    led = st.ledger
    parts = units.ledger_pnl(led)  # rounded together: the parts add up to equity as shown
    dd_frac = st.drawdown / st.max_drawdown if st.max_drawdown > 0 else Decimal(0)
    dd_style = "bold red" if dd_frac >= Decimal("0.8") else "yellow" if dd_frac >= 0.5 else ""
    equity_style = "green" if led.equity >= 0 else "red"
    return [
        styled_line(
            ("P&L ", "dim"),
            (_money(parts.equity), f"bold {equity_style}"),
            ("  real ", "dim"),
            _money(parts.realised),
            ("  unreal ", "dim"),
            _money(parts.unrealised),
            ("  fees ", "dim"),
            _money(parts.fees),
            ("  fund ", "dim"),
            _money(parts.funding),
        ),
        styled_line(
            ("  spread ", "dim"),
            _money(parts.spread_capture),
            ("  inventory ", "dim"),
            _money(parts.inventory),
            ("  recon ", "dim"),
            _money(parts.reconciliation),
            ("  DD ", "dim"),
            (f"{_unsigned(st.drawdown)}/{_unsigned(st.max_drawdown)} ({dd_frac:.0%})", dd_style),
        ),
    ]


def _quotes(inst: Instrument, st: StrategyStatus) -> Table:
    table = Table(
        box=None, padding=(0, 1), show_edge=False, header_style="dim", pad_edge=False, expand=False
    )
    for name, justify in (
        ("side", "left"),
        ("lvl", "right"),
        ("price", "right"),
        ("size", "right"),
        ("queue ahead", "right"),
        ("age", "right"),
        ("state", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis")  # type: ignore[arg-type]
    shown = 0
    hidden = 0
    # Asks from the farthest shown down to the best, then bids from the best: a ladder.
    asks = sorted((q for q in st.quotes if q.side is Side.SELL), key=lambda q: q.price)
    bids = sorted((q for q in st.quotes if q.side is Side.BUY), key=lambda q: -q.price)
    hidden += max(0, len(asks) - QUOTE_ROWS_PER_SIDE) + max(0, len(bids) - QUOTE_ROWS_PER_SIDE)
    for q in [*reversed(asks[:QUOTE_ROWS_PER_SIDE]), *bids[:QUOTE_ROWS_PER_SIDE]]:
        style = "red" if q.side is Side.SELL else "green"
        queue = "—" if q.queue_ahead_estimate is None else inst.base_str(q.queue_ahead_estimate)
        table.add_row(
            _cell(q.side.value, style),
            str(q.level),
            _cell(inst.price_str(q.price), style),
            inst.base_str(q.qty),
            queue,
            _age(q.age_ms),
            _cell(q.state.value, "dim"),
        )
        shown += 1
    if shown == 0:
        table.add_row(_cell("none", "dim"), "", "", "", "", "", "")
    if hidden:
        table.caption = f"+{hidden} more levels"
        table.caption_justify = "left"
        table.caption_style = "dim"
    return table


def _health(view: StatusView) -> list[Text]:
    conn = styled_line(("ws ", "dim"))
    for c in view.connections:
        conn.append(f"{c.name} ")
        conn.append("up" if c.up else "DOWN", style="green" if c.up else "bold red")
        if c.reconnects:  # as the tasks' restarts: three sockets and REST fit in 80 columns
            conn.append(f" ↻{c.reconnects}", style="yellow")
        conn.append("  ")
    conn.append("REST p50 ", style="dim")
    conn.append(_latency(view.rest_p50_us))
    conn.append(" p99 ", style="dim")
    conn.append(_latency(view.rest_p99_us))

    rate = styled_line(("rate ", "dim"))
    for r in view.rate_limits:
        frac = r.used / r.limit if r.limit > 0 else 0.0
        style = "bold red" if frac >= 0.8 else "yellow" if frac >= 0.5 else ""
        rate.append(f"{r.name} ")
        rate.append(f"{r.used}/{r.limit}", style=style)
        rate.append("  ")

    kids = styled_line(("tasks ", "dim"))
    # A task not running, or restarted, first: the line is cut at 80 columns, and with the
    # eight tasks of a Hyperliquid bot the last three (account-watch, clock-sync, fee-prices)
    # were past the cut, so one of them failing showed nothing (QA, Hyperliquid paper bot).
    for child in sorted(
        view.children, key=lambda c: c.state is ChildState.RUNNING and not c.restarts
    ):
        mark, style = _CHILD_MARK.get(child.state, ("?", ""))
        kids.append(f"{child.name}")
        kids.append(mark, style=style)
        if child.restarts:
            kids.append(f"↻{child.restarts}", style="yellow")
        kids.append(" ")
    return [conn, rate, kids]


def _fill_text(inst: Instrument, notice: Notice, now: int) -> Text:
    price = _notice_int(notice, "price")
    qty = _notice_int(notice, "qty")
    side = notice.data.get("side")
    if price is None or qty is None or not isinstance(side, str):
        return _cell(f"{_age(now - notice.ts)} {notice.message}")
    maker = "M" if notice.data.get("maker") is True else "T"
    style = "green" if side == "BUY" else "red"
    return styled_line(
        (f"{_age(now - notice.ts):>6} ", "dim"),
        (f"{side:<4}", style),
        f" {inst.base_str(qty)} @ {inst.price_str(price)} {maker}",
    )


def _feeds(inst: Instrument, st: StrategyStatus) -> Table:
    """Latest fills (left, one line each) and live alerts (right, newest first, the full text
    wrapped; what does not fit the screen's last rows is cropped, and the log has it all).
    Alerts older than ALERT_TTL_MS leave the screen."""
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim", expand=True)
    table.add_column("latest fills", width=FILLS_WIDTH, no_wrap=True, overflow="ellipsis")
    table.add_column("alerts (last 2 min)", ratio=1, overflow="fold")
    fills = [_fill_text(inst, n, st.ts) for n in reversed(st.last_fills[-FEED_ROWS:])]
    live = [n for n in reversed(st.alerts) if st.ts - n.ts <= ALERT_TTL_MS][:FEED_ROWS]
    alerts = Text(overflow="fold")
    for i, n in enumerate(live):
        if i:
            alerts.append("\n")
        alerts.append(f"{_age(st.ts - n.ts):>5} ", style="dim")
        alerts.append(n.message, style="yellow")
    left = Text("\n").join(fills) if fills else _cell("—", "dim")
    table.add_row(left, alerts if live else _cell("—", "dim"))
    return table


def render_status(view: StatusView | None) -> RenderableType:
    """The whole screen for one snapshot; fits 80×24 whatever the snapshot holds."""
    if view is None or view.strategy is None:
        return styled_line(
            ("mmtrio ", "bold"), ("starting: waiting for the first status…", "italic")
        )
    st = view.strategy
    inst = view.instrument
    return Group(
        _header(view, st),
        _market(inst, st),
        _position(inst, st),
        *_pnl(st),
        styled_line(("quotes", "bold underline")),
        _quotes(inst, st),
        *_health(view),
        styled_line((LEGEND, "dim")),
        _feeds(inst, st),
    )


def status_line(view: StatusView | None) -> str:
    """One plain log line with the essentials (the non-terminal fallback of the screen)."""
    if view is None or view.strategy is None:
        return "status: starting, no strategy status yet"
    st = view.strategy
    inst = view.instrument
    led = st.ledger
    pnl = units.ledger_pnl(led)
    bid = "-" if st.best_bid is None else inst.price_str(st.best_bid)
    ask = "-" if st.best_ask is None else inst.price_str(st.best_ask)
    quotes = " ".join(
        f"{q.side.value[0]}{q.level}:{inst.base_str(q.qty)}@{inst.price_str(q.price)}"
        for q in sorted(st.quotes, key=lambda q: (q.side.value, q.level))
    )
    down = [c.name for c in view.connections if not c.up]
    reason = st.cannot_quote or st.reason
    return (
        f"status {inst.symbol} {st.trading_state.value} ({reason}) | book {bid}/{ask}"
        f"{'' if st.book_synced else ' OUT-OF-SYNC'} | quotes {quotes or 'none'} | "
        f"pos {inst.lots_to_base(st.position_lots):+} {st.band.value} | "
        f"equity {_money(pnl.equity)} (real {_money(pnl.realised)} unreal "
        f"{_money(pnl.unrealised)} fees {_money(pnl.fees)} fund {_money(pnl.funding)}) "
        f"| dd {_unsigned(st.drawdown)}/{_unsigned(st.max_drawdown)} | fills {led.fills}"
        f"{' | ws DOWN: ' + ','.join(down) if down else ''}"
        f"{' | ' + st.defence if st.defence != 'defence idle' else ''}"
    )
