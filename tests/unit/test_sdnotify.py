"""sd_notify client and watchdog pinger against a real Unix datagram socket the test binds."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
import trio.testing

from mmtrio.runtime.sdnotify import (
    MAX_STATUS_CHARS,
    SdNotifier,
    SdNotifyError,
    WatchdogPinger,
    watchdog_interval_s,
)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket standing in for systemd; yields (socket, NOTIFY_SOCKET value)."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    try:
        yield sock, path
    finally:
        sock.close()


def drain(sock: socket.socket) -> list[dict[str, str]]:
    """Every datagram waiting on ``sock``, parsed into KEY=VALUE dicts."""
    out: list[dict[str, str]] = []
    while True:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return out
        out.append(dict(line.split("=", 1) for line in data.decode().split("\n")))


def test_disabled_without_notify_socket() -> None:
    notifier = SdNotifier.from_environment({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False


def test_ready_status_stopping_arrive(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = SdNotifier.from_environment({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("quoting BTCUSDT")
    assert notifier.status("line one\nSTOPPING=1 injected")
    assert notifier.stopping("cancelling all orders")
    assert notifier.extend_timeout(20)
    got = drain(sock)
    assert got[0] == {"READY": "1", "STATUS": "quoting BTCUSDT"}
    # A newline in a status must not become a second assignment.
    assert got[1] == {"STATUS": "line one STOPPING=1 injected"}
    assert got[2] == {"STOPPING": "1", "STATUS": "cancelling all orders"}
    assert got[3] == {"EXTEND_TIMEOUT_USEC": "20000000"}
    notifier.close()
    assert notifier.watchdog() is False


def test_status_is_bounded(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = SdNotifier.from_environment({"NOTIFY_SOCKET": path})
    notifier.status("x" * 10_000)
    (msg,) = drain(sock)
    assert len(msg["STATUS"]) == MAX_STATUS_CHARS


def test_abstract_socket_address() -> None:
    name = f"mmtrio-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        assert SdNotifier.from_environment({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert sock.recv(100) == b"WATCHDOG=1"
    finally:
        sock.close()


def test_bad_notify_socket_is_named() -> None:
    with pytest.raises(SdNotifyError, match="NOTIFY_SOCKET"):
        SdNotifier.from_environment({"NOTIFY_SOCKET": "vsock:2:1234"})


def test_send_to_missing_socket_does_not_raise(tmp_path: Path) -> None:
    notifier = SdNotifier.from_environment({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.watchdog() is False


def test_watchdog_interval_from_environment() -> None:
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert (
        watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    )
    # Meant for another process: not ours to answer.
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    with pytest.raises(SdNotifyError, match="WATCHDOG_USEC"):
        watchdog_interval_s({"WATCHDOG_USEC": "thirty"})
    with pytest.raises(SdNotifyError, match="WATCHDOG_USEC"):
        watchdog_interval_s({"WATCHDOG_USEC": "0"})


async def test_headless_ready_then_watchdog_while_loop_beats(
    notify_socket: tuple[socket.socket, str], autojump_clock: trio.testing.MockClock
) -> None:
    sock, path = notify_socket
    notifier = SdNotifier.from_environment({"NOTIFY_SOCKET": path})
    pinger = WatchdogPinger(notifier, timeout_s=8.0)

    async def trading_loop() -> None:
        while True:
            pinger.beat()
            await trio.sleep(0.5)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trading_loop)
        nursery.start_soon(pinger.run)
        notifier.ready("quoting")
        await trio.sleep(10.0)
        nursery.cancel_scope.cancel()
    got = drain(sock)
    assert got[0] == {"READY": "1", "STATUS": "quoting"}
    watchdogs = [m for m in got if m == {"WATCHDOG": "1"}]
    # 10 s at one check per 2 s: several pings, each one counted.
    assert len(watchdogs) >= 4
    assert len(watchdogs) == pinger.pings


async def test_hung_loop_withholds_watchdog(
    notify_socket: tuple[socket.socket, str], autojump_clock: trio.testing.MockClock
) -> None:
    sock, path = notify_socket
    notifier = SdNotifier.from_environment({"NOTIFY_SOCKET": path})
    pinger = WatchdogPinger(notifier, timeout_s=8.0)
    hang = trio.Event()

    async def trading_loop() -> None:
        for _ in range(4):
            pinger.beat()
            await trio.sleep(0.5)
        await hang.wait()  # stuck on an await that never returns

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trading_loop)
        nursery.start_soon(pinger.run)
        await trio.sleep(3.0)
        before = drain(sock)
        # The last beat was at 1.5 s; pings may continue until it is max_silence_s (4 s) old.
        await trio.sleep(5.0)
        transition = drain(sock)
        await trio.sleep(20.0)
        after = drain(sock)
        nursery.cancel_scope.cancel()
    assert {"WATCHDOG": "1"} in before
    assert any(m.get("STATUS", "").startswith("trading loop stalled") for m in transition)
    assert after == []  # 20 s of silence: systemd's 8 s watchdog fires
    assert pinger.withheld > 0


def test_pinger_rejects_bad_timeout() -> None:
    with pytest.raises(SdNotifyError):
        WatchdogPinger(SdNotifier(None), timeout_s=0)
