"""The operator surface's READY=1 (only once both streams are connected) and its disk-kill
reason (the threshold the check used, after a reload), against a real datagram socket."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import trio

from mmtrio.config import Config, load_config
from mmtrio.core.events import KillSwitch
from mmtrio.runtime.diskguard import DiskLevel, evaluate
from mmtrio.runtime.inbox import LaneStats
from mmtrio.runtime.status import StatusSources
from mmtrio.runtime.surface import OperatorSurface, streams_down

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path: Path) -> Config:
    state = tmp_path / "state"
    state.mkdir()
    return load_config(ROOT / "config.toml", overrides=[f"runtime.state_dir={state}"])


def recv_all(sock: socket.socket) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    while True:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return out
        out.append(dict(line.split("=", 1) for line in data.decode().split("\n")))


def test_streams_down_names_each_unconnected_stream() -> None:
    src = StatusSources(symbol="BTCUSDT", clock_ms=lambda: 0)
    assert streams_down(src) == ["market", "user"]
    src.market, src.user = LaneStats(connected=True), LaneStats()
    assert streams_down(src) == ["user"]
    src.user.connected = True
    assert streams_down(src) == []


def test_ready_waits_for_both_streams(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    market, user = LaneStats(), LaneStats()
    src = StatusSources(symbol="BTCUSDT", clock_ms=lambda: 0, market=market, user=user)
    surface = OperatorSurface(config(tmp_path), src, environ={"NOTIFY_SOCKET": path})
    got: list[dict[str, str]] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(surface.run)  # started: the supervisor may start the streams
            await trio.sleep(0.3)
            got.extend(recv_all(sock))
            assert not any("READY" in d for d in got), got
            assert got[-1]["STATUS"] == (
                "starting: reconciled; waiting for the market and user streams to connect"
            )
            market.connected = True
            await trio.sleep(0.3)
            got.extend(recv_all(sock))
            assert not any("READY" in d for d in got), got
            assert got[-1]["STATUS"].endswith("waiting for the user stream to connect")
            user.connected = True
            await trio.sleep(0.3)
            got.extend(recv_all(sock))
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    finally:
        sock.close()
    ready = [d for d in got if d.get("READY") == "1"]
    assert len(ready) == 1, got
    assert got.index(ready[0]) == len(got) - 1


class Events:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send_nowait(self, item: Any) -> None:
        self.sent.append(item)


def test_disk_kill_reason_quotes_the_reloaded_threshold(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert cfg.journal.disk_halt_free_mb == 256
    src = StatusSources(symbol="BTCUSDT", clock_ms=lambda: 7)
    surface = OperatorSurface(cfg, src, environ={})
    events = Events()
    surface._events = events  # type: ignore[assignment]  # what bind() sets
    surface.disk.set_thresholds(1_000_000, 999_999)  # a SIGHUP reloading [journal]
    state = evaluate(51_200 * 2**20, 1_000_000, 999_999)
    assert state.level is DiskLevel.HALT
    surface._on_disk(state)
    (kill,) = events.sent
    assert isinstance(kill, KillSwitch)
    assert kill.reason.startswith("disk space below 999999 MB at "), kill.reason
    assert "51200 MB free < disk_halt_free_mb 999999" in kill.reason
    assert "256" not in kill.reason
