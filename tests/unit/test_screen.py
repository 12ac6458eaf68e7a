"""The rich status screen: content, the 80×24 fit, the non-terminal fallback."""

from __future__ import annotations

import dataclasses
import io

import trio
import trio.testing
from hypothesis import given
from loguru import logger
from rich.cells import cell_len
from rich.console import Console

from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.risk import TradingState
from mmtrio.runtime.inbox import LaneStats
from mmtrio.runtime.screen import (
    SnapshotBuilder,
    StatusView,
    console_log_sink,
    render_status,
    run_screen,
    status_line,
)
from mmtrio.runtime.screen_view import Connection
from mmtrio.runtime.status import StatusSources
from mmtrio.runtime.supervisor import ChildState, ChildStatus
from mmtrio.venues.protocol import SocketHealth
from tests.strategies import (
    SampleConnection,
    SampleRateLimit,
    SampleStatus,
    sample_status,
    status_views,
)


def screen_lines(view: StatusView | None) -> list[str]:
    """Render ``view`` on an 80×24 recording console; the plain text, one entry per row."""
    console = Console(width=80, height=24, record=True, file=io.StringIO(), color_system=None)
    console.print(render_status(view))
    return console.export_text().rstrip("\n").split("\n")


def assert_fits(lines: list[str]) -> None:
    assert len(lines) <= 24, "\n".join(lines)
    for line in lines:
        assert cell_len(line) <= 80, line


def test_screen_shows_quote_position_pnl_state() -> None:
    lines = screen_lines(sample_status())
    assert_fits(lines)
    text = "\n".join(lines)
    assert "BTCUSDT" in lines[0]
    assert "ACTIVE" in lines[0] and "quoting both sides" in lines[0]
    # Market: ticks shown as prices on the 0.10 grid, the mid on the half tick.
    assert "bid 60001.20  ask 60001.40  mid 60001.30  spr 2t" in lines[1]
    # Our quotes: price, size, queue-ahead estimate (7 lots), sell above buy.
    buy = next(line for line in lines if line.lstrip().startswith("BUY"))
    sell = next(line for line in lines if line.lstrip().startswith("SELL"))
    assert lines.index(sell) < lines.index(buy)
    assert "60001.0" in buy and "0.002" in buy and "0.007" in buy
    assert "60001.7" in sell and "0.002" in sell
    # Position and P&L with attribution; drawdown against its limit.
    assert "+0.004" in text and "NORMAL" in text
    assert "+0.83" in text and "+1.25" in text and "-0.40" in text
    assert "+2.10" in text and "-0.88" in text
    assert "0.42/50.00" in text
    # Health, rate limits, children, the latest fill and alert.
    assert "480µs" in text and "1050µs" in text
    assert "weight_1m 120/2400" in text
    assert "user-stream" in text
    assert "BUY  0.002 @ 60001.00 M" in text
    assert "user stream reconnected" in text


def test_halted_shows_why_quoting_stopped() -> None:
    view = sample_status()
    assert view.strategy is not None
    halted = dataclasses.replace(
        view.strategy, trading_state=TradingState.HALTED, cannot_quote="kill switch: operator"
    )
    lines = screen_lines(dataclasses.replace(view, strategy=halted))
    assert "HALTED" in lines[0] and "kill switch: operator" in lines[0]


def test_long_ladder_is_capped_and_counted() -> None:
    view = sample_status()
    assert view.strategy is not None
    quote = view.strategy.quotes[0]
    ladder = tuple(
        dataclasses.replace(quote, side=side, level=i, price=600_000 + (i + 20) * sign)
        for i in range(10)
        for side, sign in ((quote.side, -1), (view.strategy.quotes[1].side, 1))
    )
    lines = screen_lines(
        dataclasses.replace(view, strategy=dataclasses.replace(view.strategy, quotes=ladder))
    )
    assert_fits(lines)
    assert "+14 more levels" in "\n".join(lines)


def test_starting_screen_before_first_status() -> None:
    lines = screen_lines(None)
    assert "starting" in lines[0]
    assert "starting" in screen_lines(sample_status(strategy=None))[0]


@given(status_views())
def test_any_status_fits_80x24(view: SampleStatus) -> None:
    assert_fits(screen_lines(view))


def test_status_line_has_the_essentials() -> None:
    line = status_line(sample_status())
    assert "\n" not in line
    assert "BTCUSDT ACTIVE" in line
    assert "B0:0.002@60001.00" in line and "S0:0.002@60001.70" in line
    assert "pos +0.004 NORMAL" in line and "equity +0.83" in line
    conn = sample_status().connections
    down = sample_status(connections=(dataclasses.replace(conn[0], up=False), conn[1]))
    assert "ws DOWN: market" in status_line(down)


async def test_not_a_terminal_falls_back_to_log_lines(
    autojump_clock: trio.testing.MockClock,
) -> None:
    records: list[str] = []
    handler = logger.add(records.append, format="{message}", level="INFO")
    console = Console(file=io.StringIO(), force_terminal=False)
    try:
        with trio.move_on_after(25):
            await run_screen(sample_status, console=console, log_interval_s=10)
    finally:
        logger.remove(handler)
    status = [r for r in records if r.startswith("status BTCUSDT")]
    assert len(status) == 3  # t = 0, 10, 20
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]


async def test_terminal_gets_the_live_screen() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80, height=24)
    with trio.move_on_after(0.3):  # a real thread refreshes the screen: real time, briefly
        await run_screen(sample_status, console=console, refresh_per_second=20)
    assert "ACTIVE" in out.getvalue() and "60001.7" in out.getvalue()


async def test_a_render_bug_is_shown_not_raised() -> None:
    broken = sample_status(instrument=None)  # rendering it raises AttributeError

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80, height=24)
    with trio.move_on_after(0.3):
        await run_screen(lambda: broken, console=console, refresh_per_second=20)
    assert "status screen error" in out.getvalue() and "AttributeError" in out.getvalue()


async def test_builder_reads_the_engine_sources(autojump_clock: trio.testing.MockClock) -> None:
    stats = LaneStats(connected=True)

    class Execution:
        def stats(self) -> dict[str, object]:
            return {
                "latency_p50_us": 480,
                "latency_p99_us": 990,
                "budget": {"weight_1m": {"used": 5, "limit": 2400}, "banned": False},
            }

    src = StatusSources(symbol="BTCUSDT", clock_ms=lambda: 0, execution=Execution(), market=stats)
    builder = SnapshotBuilder(src)
    assert builder.build() is None  # the venue's instrument is not known yet
    src.instrument = BTCUSDT  # start-up read it from the venue
    first = builder.build()
    assert first is not None
    assert first.strategy is None and first.instrument.symbol == "BTCUSDT"
    assert first.rest_p50_us == 480 and first.rate_limits[0].used == 5
    assert first.connections[0].up and first.connections[0].reconnects == 0
    stats.connected = False
    assert not builder.build().connections[0].up  # type: ignore[union-attr]
    stats.connected = True
    assert builder.build().connections[0].reconnects == 1  # type: ignore[union-attr]
    assert "starting" in screen_lines(builder.build())[0]


def test_console_log_sink_prints_through_the_console() -> None:
    out = io.StringIO()
    sink = console_log_sink(Console(file=out, width=80, color_system=None))
    sink("2024-08-08 INFO fill BUY 0.002 [not markup]\n")
    assert out.getvalue() == "2024-08-08 INFO fill BUY 0.002 [not markup]\n"


def test_header_names_the_side_the_position_limit_switched_off() -> None:
    """The guards say 'all risk checks clear' while the inventory band keeps one side off:
    the header says which side and why, not 'all clear'."""
    from mmtrio.core.risk import InventoryBand

    view = sample_status()
    assert view.strategy is not None
    critical = dataclasses.replace(
        view.strategy,
        reason="all risk checks clear",
        band=InventoryBand.CRITICAL,
        position_lots=17,
        quotes=tuple(q for q in view.strategy.quotes if q.side.value == "SELL"),
    )
    lines = screen_lines(dataclasses.replace(view, strategy=critical))
    assert "BUY side off: CRITICAL position +0.017/0.020 BTC" in lines[0]
    assert "all risk checks clear" not in lines[0]
    # Near the limit in the NORMAL band: one more quote would pass it.
    near = dataclasses.replace(critical, band=InventoryBand.WARN, position_lots=19)
    lines = screen_lines(dataclasses.replace(view, strategy=near))
    assert "BUY side off: at the limit, position +0.019/0.020 BTC" in lines[0]


def test_stopping_header_replaces_active() -> None:
    lines = screen_lines(dataclasses.replace(sample_status(), stopping="SIGINT received"))
    assert "STOPPING" in lines[0] and "ACTIVE" not in lines[0]


def test_alerts_show_in_full_and_expire() -> None:
    from mmtrio.core.notices import Notice

    view = sample_status()
    assert view.strategy is not None
    now = view.strategy.ts
    long = (
        "BUY order worst-case position 0.021 BTC exceeds the limit 0.020 BTC (position 0.019 "
        "BTC, open buys 0.000 BTC, this 0.002 BTC)"
    )
    alerts = (
        Notice("alert", now - 10 * 60_000, "an old alert", {}),
        Notice("alert", now - 1_000, long, {}),
    )
    lines = screen_lines(
        dataclasses.replace(view, strategy=dataclasses.replace(view.strategy, alerts=alerts))
    )
    assert_fits(lines)
    text = " ".join(line.strip() for line in lines)
    assert "an old alert" not in text  # expired
    # Every word of the long alert is on the screen (wrapped, not cut at ~30 characters).
    for word in long.split():
        assert word in text, word


def test_legend_explains_the_abbreviations() -> None:
    text = "\n".join(screen_lines(sample_status()))
    assert "q/t order msgs per fill" in text and "queue ahead" in text


def test_console_log_sink_never_wraps() -> None:
    out = io.StringIO()
    sink = console_log_sink(Console(file=out, width=40, color_system=None))
    sink("x" * 100 + "\n")
    (line,) = out.getvalue().splitlines()
    assert cell_len(line) <= 40 and line.endswith("…")


def test_money_that_rounds_to_zero_prints_without_a_minus_sign() -> None:
    """QA saw ``real -0.00  unreal -0.00`` on the screen while `status` said ``+0.00``: the
    screen and its one-line form now round with the one money helper (mmtrio.units)."""
    from decimal import Decimal

    from tests.strategies import consistent_ledger

    view = sample_status()
    assert view.strategy is not None
    tiny = consistent_ledger(  # equity -0.00321, every part under half a cent
        realised=Decimal("-0.0012"),
        unrealised=Decimal("-0.001"),
        fees=Decimal("0.001"),
        funding=Decimal("-0.00001"),
        spread_capture=Decimal("-0.003"),
    )
    zero = dataclasses.replace(view, strategy=dataclasses.replace(view.strategy, ledger=tiny))
    text = "\n".join(screen_lines(zero)) + "\n" + status_line(zero)
    assert "-0.00" not in text
    assert "P&L +0.00  real +0.00  unreal +0.00  fees +0.00  fund +0.00" in text
    assert "equity +0.00 (real +0.00 unreal +0.00 fees +0.00 fund +0.00)" in text


def test_the_order_socket_is_a_connection_whose_counts_stay_monotonic() -> None:
    health = [SocketHealth(True, 1, 3)]
    src = StatusSources(symbol="BTCUSDT", clock_ms=lambda: 0, instrument=BTCUSDT)
    src.market = LaneStats(connected=True, received=40)
    src.user = LaneStats(connected=True, received=7, reconnects=12)

    def orders() -> Connection | None:
        view = builder.build()
        assert view is not None
        return next((c for c in view.connections if c.name == "orders"), None)

    builder = SnapshotBuilder(src)
    assert orders() is None  # a session without an order socket: no "orders" series
    src.orders = lambda: health[0]
    assert orders() == Connection("orders", True, 0, 3)
    health[0] = SocketHealth(False, 1, 3)  # down
    assert orders() == Connection("orders", False, 0, 3)
    health[0] = SocketHealth(True, 2, 4)  # back: a reconnect
    assert orders() == Connection("orders", True, 1, 4)
    # The next session's socket counts from zero: carried on, never backwards (a counter).
    health[0] = SocketHealth(True, 1, 0)
    assert orders() == Connection("orders", True, 2, 4)
    health[0] = SocketHealth(True, 1, 2)
    assert orders() == Connection("orders", True, 2, 6)
    view = builder.build()
    assert view is not None
    assert [(c.name, c.messages) for c in view.connections] == [
        ("market", 40),
        ("user", 7),
        ("orders", 6),
    ]
    # three sockets and REST latency on the health line, within 80 columns
    shown = tuple(
        SampleConnection(c.name, c.up, c.reconnects, c.messages) for c in view.connections
    )
    lines = screen_lines(dataclasses.replace(sample_status(), connections=shown))
    assert_fits(lines)
    (ws,) = [line for line in lines if line.startswith("ws ")]
    assert "market up  user up ↻12  orders up ↻2  REST p50 480µs p99 1050µs" in ws


def test_the_busiest_rate_windows_come_first() -> None:
    """OKX states twelve windows: the line cut at 80 columns showed the first five, all idle,
    while a later one (amend_2s) filled up. The busiest now come first (ties as listed)."""
    idle = ("place_2s", "cancel_2s", "batch_cancel_2s", "orders_2s", "order_query_2s")
    limits = (
        *(SampleRateLimit(n, 0, 60) for n in idle),
        SampleRateLimit("amend_2s", 51, 60),
        SampleRateLimit("positions_2s", 4, 10),
    )
    lines = screen_lines(sample_status(rate_limits=limits))
    assert_fits(lines)
    rate = next(line for line in lines if line.startswith("rate "))
    assert rate.startswith("rate amend_2s 51/60  positions_2s 4/10  place_2s 0/60"), rate


def test_a_task_in_trouble_comes_first_on_the_tasks_line() -> None:
    """Eight tasks overflow 80 columns: the last ones (clock-sync, fee-prices) were cut off
    whatever their state. Those not running, or restarted, now come first."""
    names = ("market-feed", "user-stream", "deadman", "reconciler", "instrument-watch",
             "account-watch", "clock-sync", "fee-prices")  # fmt: skip
    kids = tuple(ChildStatus(n, ChildState.RUNNING, 0, 0, None, 1.0, None) for n in names[:-1])
    failing = ChildStatus("fee-prices", ChildState.BACKING_OFF, 2, 2, "boom", 1.0, 5.0)
    lines = screen_lines(sample_status(children=(*kids, failing)))
    assert_fits(lines)
    tasks = next(line for line in lines if line.startswith("tasks "))
    assert tasks.startswith("tasks fee-prices↻↻2 market-feed✓"), tasks


def test_a_failing_task_is_shown_even_when_the_tasks_line_is_cut() -> None:
    # QA (Hyperliquid paper bot): eight tasks do not fit 80 columns; the line was cut after
    # instrument-watch, so a failing clock-sync or fee-prices did not show at all.
    names = ["market-feed", "user-stream", "deadman", "reconciler", "instrument-watch",
             "account-watch", "clock-sync", "fee-prices"]  # fmt: skip
    ok, failed = ChildState.RUNNING, ChildState.FAILED
    children = tuple(
        ChildStatus(n, failed, 2, 2, "Boom", 1.0, None)
        if n == "fee-prices"
        else ChildStatus(n, ok, 0, 0, None, 1.0, None)
        for n in names
    )
    lines = screen_lines(sample_status(children=children))
    assert_fits(lines)
    (tasks,) = [line for line in lines if line.startswith("tasks ")]
    assert tasks.startswith("tasks fee-prices✗↻2 market-feed✓ user-stream✓"), tasks


class _GoneTerminal(io.StringIO):
    """A terminal whose window was closed: every write fails with EIO, as on a hung-up tty."""

    def write(self, text: str) -> int:
        raise OSError(5, "Input/output error")

    def isatty(self) -> bool:
        return True


async def test_a_terminal_gone_leaves_the_bot_running_headless(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # QA (Hyperliquid paper bot): after `tmux kill-session` the bot traded on (SIGHUP is a
    # reload); its SIGTERM then ended "the bot crashed: OSError: [Errno 5] Input/output
    # error" (exit 1) when the screen tried to draw its closing frame.
    console = Console(file=_GoneTerminal(), force_terminal=True, width=80, height=24)
    said: list[str] = []
    sink = logger.add(lambda m: said.append(m.record["message"]), level="INFO")
    try:
        with trio.move_on_after(25) as scope:
            await run_screen(sample_status, console=console, log_interval_s=10)
    finally:
        logger.remove(sink)
    assert scope.cancelled_caught  # it ran until cancelled, as the engine's task does
    assert said[0] == (
        "the terminal is gone (Input/output error): no live screen any more, a status line "
        "is logged every 10 s"
    )
    assert [line.split(" ", 2)[:2] for line in said[1:]] == [["status", "BTCUSDT"]] * 3
