"""ops/: the systemd unit, the install script, the Prometheus example and alert rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mmtrio.runtime.engine_startup import SESSION_START_TIMEOUT_S
from mmtrio.runtime.metrics import Metrics
from tests.debian_tools import debian_tool
from tests.strategies import SampleConnection, sample_status

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"


def unit_directives(name: str = "mmtrio.service") -> dict[str, dict[str, list[str]]]:
    """The unit as {section: {key: [values]}} (systemd keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in (OPS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a KEY=VALUE line: {raw!r}"
        current.setdefault(key, []).append(value)
    return sections


def test_unit_has_the_required_directives() -> None:
    unit = unit_directives()
    service = unit["Service"]

    def one(key: str) -> str:
        values = service[key]
        assert len(values) == 1, key
        return values[0]

    assert one("Type") == "notify"
    assert int(one("WatchdogSec")) > 0
    assert one("Restart") == "on-failure"
    assert int(unit["Unit"]["StartLimitBurst"][0]) > 0
    assert int(unit["Unit"]["StartLimitIntervalSec"][0]) > 0
    # Long enough for the shielded cleanup (runtime.shutdown_deadline_s allows up to 300 s,
    # default 15 s) plus the journal flush.
    assert int(one("TimeoutStopSec")) >= 60
    assert one("NoNewPrivileges") == "yes"
    assert one("ProtectSystem") == "strict"
    assert one("StateDirectory") == "mmtrio"
    # Each bot's state in /var/lib/mmtrio/<bot>/ (docs/OPERATOR.md, section 1).
    assert "MMTRIO_STATE_ROOT=/var/lib/mmtrio" in service["Environment"]
    # READY=1 waits for start-up (its own 30 s deadline) and the streams' first connection.
    assert int(one("TimeoutStartSec")) >= 3 * SESSION_START_TIMEOUT_S
    creds = service.get("LoadCredential", [])
    assert {c.split(":", 1)[0] for c in creds} == {"api_key", "api_secret"}
    assert one("User") == "mmtrio"
    assert "3" in one("RestartPreventExitStatus").split()  # a safe stop is not restarted
    assert one("ExecStart").split()[1:3] == ["run", "--config"]
    assert "--json-logs" in one("ExecStart")
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.parametrize(
    ("name", "instance"),
    [("mmtrio.service", "mmtrio.service"), ("mmtrio@.service", "mmtrio@btcusdt.service")],
)
def test_unit_verifies_with_systemd_analyze(tmp_path: Path, name: str, instance: str) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        # systemd is not installed in every CI image (and installing it is not wanted);
        # the directive tests still check the units.
        pytest.skip("systemd-analyze not available")
    # verify checks that ExecStart exists and the user resolves: point them at what this
    # machine has, keep every other directive as shipped. A template is verified through an
    # instance name (systemd loads the template file for it).
    text = (OPS / name).read_text()
    lines = []
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            lines.append("ExecStart=/bin/true")
        elif line.startswith(("User=", "Group=")):
            lines.append(line.split("=")[0] + "=root")
        else:
            lines.append(line)
    (tmp_path / name).write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [tool, "verify", str(tmp_path / instance)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [
        ln
        for ln in result.stderr.splitlines()
        if name in ln and ("Unknown" in ln or "rror" in ln or "gnoring" in ln)
    ]
    assert result.returncode == 0 and not problems, result.stderr


def test_install_script_is_valid_bash_and_complete() -> None:
    script = OPS / "install-rpi.sh"
    assert script.stat().st_mode & 0o111, "install-rpi.sh must be executable"
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    for needed in ("python3 -m venv", "useradd --system", "mmtrio.service", "daemon-reload"):
        assert needed in text, needed


def test_prometheus_example_scrapes_the_configured_port() -> None:
    prom = yaml.safe_load((OPS / "prometheus.yml").read_text())
    (job,) = prom["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:9464"]
    assert job["static_configs"][1]["targets"] == ["127.0.0.1:9465"]  # a second bot
    assert prom["rule_files"] == ["alerts.yml"]
    (am,) = prom["alerting"]["alertmanagers"]
    assert am["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


def test_template_unit_gives_each_instance_its_own_state_and_name() -> None:
    unit = unit_directives("mmtrio@.service")
    service = unit["Service"]
    (exec_start,) = service["ExecStart"]
    assert "--config /etc/mmtrio/%i.toml" in exec_start and "--name %i" in exec_start
    assert service["StateDirectory"] == ["mmtrio/%i"]
    assert service["WorkingDirectory"] == ["/var/lib/mmtrio/%i"]
    assert "MMTRIO_STATE_ROOT=/var/lib/mmtrio" in service["Environment"]
    assert {c.split(":", 1)[1] for c in service["LoadCredential"]} == {
        "/etc/mmtrio/credentials/%i/api_key",
        "/etc/mmtrio/credentials/%i/api_secret",
        "/etc/mmtrio/credentials/%i/telegram_token",
    }
    assert "2" in service["RestartPreventExitStatus"][0].split()  # a busy port: no loop
    # Everything else as hardened as the single-bot unit.
    single = unit_directives()["Service"]
    for key in ("NoNewPrivileges", "ProtectSystem", "SystemCallFilter", "Type", "WatchdogSec",
                "TimeoutStartSec"):  # fmt: skip
        assert service[key] == single[key], key


def test_alertmanager_example_is_valid_and_routes_by_bot() -> None:
    amtool, why = debian_tool("amtool", "prometheus-alertmanager")
    if amtool is None:
        pytest.skip(why)
    result = subprocess.run(
        [amtool, "check-config", str(OPS / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_example_routes_the_shipped_alerts() -> None:
    am = yaml.safe_load((OPS / "alertmanager.yml").read_text())
    assert "bot" in am["route"]["group_by"]
    receivers = {r["name"] for r in am["receivers"]}
    routed = {am["route"]["receiver"]} | {r["receiver"] for r in am["route"]["routes"]}
    assert routed <= receivers
    severities = {
        r["labels"]["severity"]
        for g in yaml.safe_load((OPS / "alerts.yml").read_text())["groups"]
        for r in g["rules"]
    }
    assert severities == {"critical", "warning"}  # both routed (critical has its own route)


def test_promtool_accepts_the_rules_and_the_scrape_config() -> None:
    promtool, why = debian_tool("promtool", "prometheus")
    if promtool is None:
        pytest.skip(why)
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"]):
        result = subprocess.run(
            [promtool, *args], cwd=OPS, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_use_exported_metric_names() -> None:
    rules = yaml.safe_load((OPS / "alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert len(exprs) >= 8
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"MmtrioDown", "MmtrioHalted", "MmtrioDrawdownHigh"} <= names
    # Every series an alert reads must be one the bot really exports.
    metrics = Metrics(sample_status)
    metrics.observe_rest(0.01)
    metrics.observe_tick_to_order(0.001)
    exposition = generate_latest(metrics.registry).decode()
    exported = {
        sample.name
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
    for expr in exprs:
        for name in re.findall(r"\bmmtrio_[a-z0-9_]+", expr):
            assert name in exported, f"alert uses {name}, which the bot does not export"


def test_operator_guide_covers_the_lifecycle() -> None:
    guide = (ROOT / "docs" / "OPERATOR.md").read_text()
    for heading in ("Install", "Keys", "Configure", "Start", "Watch", "Kill and resume",
                    "Upgrade", "Recover after a crash or power loss"):  # fmt: skip
        assert f". {heading}" in guide, heading


def test_the_operator_guide_lists_exactly_the_exported_metrics() -> None:
    guide = (ROOT / "docs" / "OPERATOR.md").read_text()
    rows = [line for line in guide.splitlines() if line.startswith("| `mmtrio_")]
    documented = {
        name.removesuffix("_total")
        for row in rows
        for name in re.findall(r"mmtrio_[a-z0-9_]+", row)
    }
    assert len(rows) >= 20
    # A bot with every optional series present: an order socket, back-offs, both histograms.
    view = sample_status(
        connections=(SampleConnection("market", True, 0, 9), SampleConnection("orders", True, 1, 2))
    )
    metrics = Metrics(lambda: view)
    metrics.observe_rest(0.01)
    metrics.observe_tick_to_order(0.001)
    exposition = generate_latest(metrics.registry).decode()
    families = {
        f.name
        for f in text_string_to_metric_families(exposition)
        if f.samples and not f.name.endswith("_created")  # prometheus_client's own, per counter
    }
    assert documented == families, (
        f"documented, not exported: {sorted(documented - families)}; "
        f"exported, not documented: {sorted(families - documented)}"
    )
