"""The shipped Grafana dashboard and alert rules against a running bot's real /metrics.

No Grafana can be installed here (not on PyPI, Debian or npm), so the dashboard is checked the
way the issue allows: every metric name in every query (panels, the ``bot`` variable, the halt
annotation) and in every alert rule must be a series that a live bot exports, scraped over
HTTP. When Debian's ``prometheus`` is installed, a real Prometheus also scrapes the bot and
runs every dashboard query through its HTTP API: each must parse and return a series.
"""

from __future__ import annotations

import functools
import json
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import yaml  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families

from tests.debian_tools import debian_tool
from tests.integration.paper import paper_engine
from tests.integration.test_run_engine import quotes_resting, run_engine, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "ops" / "grafana-dashboard.json"
NAME = re.compile(r"\bmmtrio_[a-z0-9_]+")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dashboard_queries() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [v["query"]["query"] for v in dash["templating"]["list"]]
    exprs += [a["expr"] for a in dash["annotations"]["list"]]
    return exprs


def annotation_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    return [a["expr"] for a in dash["annotations"]["list"]]


def alert_exprs() -> list[str]:
    rules = yaml.safe_load((ROOT / "ops" / "alerts.yml").read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def bot_config(tmp: Path, port: int) -> Path:
    path = write_config(tmp)
    text = path.read_text().replace("enabled = false ", "enabled = true ", 1)
    path.write_text(text.replace("port = 9464", f"port = {port}"))
    return path


def tick_to_order_count(text: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "mmtrio_tick_to_order_seconds_count"
    )


async def live_bot_metrics(tmp: Path, port: int, then: Any = None) -> str:
    """Start a paper bot with metrics on ``port``, wait for quotes, run ``then`` (async, with
    the URL), and return one scrape of /metrics."""
    cfg_path = bot_config(tmp, port)
    engine = paper_engine(cfg_path)
    codes: list[int] = []
    url = f"http://127.0.0.1:{port}/metrics"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 40, "quotes resting")
        async with httpx.AsyncClient() as client:
            # Quotes exported, and a market-driven order decision timed (the first placement
            # may follow a non-market event, e.g. the end of the warm-up: nothing to time).
            with trio.fail_after(20):
                while True:
                    text = (await client.get(url)).text
                    if "mmtrio_quote_price" in text and tick_to_order_count(text) >= 1:
                        break
                    await trio.sleep(0.2)  # polling an HTTP endpoint: no event to wait on
        if then is not None:
            await then(url)
        engine.request_stop("test over")
    assert codes == [0]
    return text


async def test_every_dashboard_and_alert_metric_is_exported_by_a_live_bot(
    tmp_path: Path,
) -> None:
    text = await live_bot_metrics(tmp_path, free_port())
    exported: set[str] = set()
    labels: set[str] = set()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            exported.add(s.name)
            labels |= set(s.labels)
    assert {"bot", "venue", "symbol"} <= labels
    # The tick-to-order histogram is fed by the live path (it used to be fed only by tests).
    counts = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "mmtrio_tick_to_order_seconds_count"
    ]
    assert counts and counts[0] >= 1, counts
    queries = dashboard_queries() + alert_exprs()
    assert len(queries) > 30
    used = {name for q in queries for name in NAME.findall(q)}
    missing = sorted(used - exported)
    assert not missing, f"queried but not exported by a live bot: {missing}"
    # Each topic the issue names has a panel.
    titles = " | ".join(p["title"] for p in json.loads(DASHBOARD.read_text())["panels"])
    for topic in ("P&L parts", "Position against limits", "Quotes against the market",
                  "Tick-to-order", "REST latency", "reconnects", "Restarts",
                  "Rate-limit", "Trading state"):  # fmt: skip
        assert topic in titles, topic


async def test_a_real_prometheus_runs_every_dashboard_query(tmp_path: Path) -> None:
    prometheus, why = await trio.to_thread.run_sync(debian_tool, "prometheus", "prometheus")
    if prometheus is None:
        pytest.skip(why)
    prom_port, bot_port = free_port(), free_port()
    (tmp_path / "prom.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n  - job_name: mmtrio\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{bot_port}']\n"
    )
    api = f"http://127.0.0.1:{prom_port}/api/v1"
    results: dict[str, Any] = {}

    async def with_prometheus(_url: str) -> None:
        cmd = [
            prometheus,
            f"--config.file={tmp_path / 'prom.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ]
        with (
            open(tmp_path / "prom.log", "wb") as out,  # noqa: ASYNC230 - opened once, at start
            open(tmp_path / "prom.err", "wb") as err,  # noqa: ASYNC230
        ):
            await run_prometheus(cmd, out, err)

    async def run_prometheus(cmd: list[str], out: Any, err: Any) -> None:
        async with trio.open_nursery() as nursery:
            proc = await nursery.start(
                functools.partial(trio.run_process, cmd, stdout=out, stderr=err, check=False)
            )
            async with httpx.AsyncClient() as client:
                with trio.fail_after(60):
                    # rate() and increase() need two samples of a series: wait for four scrapes.
                    while True:
                        await trio.sleep(0.5)
                        try:
                            r = await client.get(
                                f"{api}/query",
                                params={"query": "count_over_time(mmtrio_status_up[1m])"},
                            )
                        except httpx.HTTPError:
                            continue
                        res = r.json().get("data", {}).get("result", [])
                        if res and float(res[0]["value"][1]) >= 4:
                            break
                for q in dashboard_queries():
                    if q.startswith("label_values("):
                        r = await client.get(f"{api}/label/bot/values")
                    else:
                        r = await client.get(
                            f"{api}/query", params={"query": q.replace("$bot", ".*")}
                        )
                    results[q] = r.json()
                for q in alert_exprs():
                    r = await client.get(f"{api}/query", params={"query": q})
                    results[q] = r.json()
            proc.terminate()

    await live_bot_metrics(tmp_path, bot_port, with_prometheus)
    annotations = annotation_exprs()
    for q in dashboard_queries():
        doc = results[q]
        assert doc["status"] == "success", (q, doc)
        if q in annotations:
            continue  # the halt annotation is empty while the bot is not halted
        found = doc["data"] if q.startswith("label_values(") else doc["data"]["result"]
        assert found, f"no series for dashboard query {q!r}"
    assert results["label_values(mmtrio_status_up, bot)"]["data"] == ["binance-paper"]
    for q in alert_exprs():
        assert results[q]["status"] == "success", (q, results[q])  # parses and evaluates
