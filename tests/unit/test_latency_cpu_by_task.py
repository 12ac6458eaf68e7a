"""benchmarks/latency.py --cpu-by-task: the per-task CPU instrument and its summary.

The instrument reads the thread's CPU clock, so these tests burn a little real CPU (tens of
ms); no wall-clock sleep is involved.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import trio

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "latency.py"


def _latency() -> ModuleType:
    name = "_bench_latency_under_test"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _burn(cpu_s: float) -> None:
    end = time.thread_time() + cpu_s
    while time.thread_time() < end:
        pass


async def test_each_task_is_charged_its_own_steps_and_the_starting_step_from_start() -> None:
    lat = _latency()
    cpu = lat.TaskCpu()
    trio.lowlevel.add_instrument(cpu)
    try:
        _burn(0.05)  # before start(), in the step that calls it: not counted
        cpu.start()

        async def burner() -> None:
            for _ in range(3):
                _burn(0.01)
                await trio.lowlevel.checkpoint()

        async def idler() -> None:
            for _ in range(3):
                await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(burner, name="burner")
            nursery.start_soon(idler, name="idler")
        cpu.on = False
    finally:
        trio.lowlevel.remove_instrument(cpu)
    assert cpu.ns["burner"] >= 30_000_000  # its three 10 ms bursts
    assert cpu.ns["idler"] < cpu.ns["burner"] / 10
    assert cpu.steps["burner"] == cpu.steps["idler"] == 4  # three checkpoints and the end
    own = [v for k, v in cpu.ns.items() if k not in ("burner", "idler")]
    assert sum(own) < 40_000_000  # the 50 ms burnt before start() is not in it


def test_reader_tasks_are_named_by_their_socket() -> None:
    lat = _latency()

    def reader(path: str) -> Any:
        frame = SimpleNamespace(f_locals={"self": SimpleNamespace(path=path)})
        return SimpleNamespace(
            name="trio_websocket._impl.WebSocketConnection._reader_task",
            coro=SimpleNamespace(cr_frame=frame),
        )

    assert lat._task_label(reader("/stream?streams=btcusdt@depth")) == (
        "websocket reader (market socket)"
    )
    assert lat._task_label(reader("/ws-fapi/v1")) == "websocket reader (order socket)"
    assert lat._task_label(reader("/ws/listenkey")) == "websocket reader (user socket)"
    task = SimpleNamespace(name="mmtrio.runtime.trading.TradingLoop.run")
    assert lat._task_label(task) == "TradingLoop.run"


def test_summary_splits_the_window_per_market_message() -> None:
    cpu = _latency().TaskCpu()
    cpu.ns = {"a": 3_000_000, "b": 1_000_000}
    cpu.steps = {"a": 30, "b": 10}
    out = cpu.summary(thread_ns=5_000_000, process_ns=7_000_000, market_msgs=10)
    assert out["process"] == 700.0 and out["event_loop_thread"] == 500.0
    assert out["tasks"] == {"a": 300.0, "b": 100.0}
    assert out["scheduler_epoll_and_instrument"] == 100.0
    assert out["other_threads_journal_commits_and_thread_cache"] == 200.0
    assert out["task_steps_per_market_message"] == {"a": 3.0, "b": 1.0}
