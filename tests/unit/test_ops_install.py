"""ops/install-rpi.sh's config rewrites, run on the shipped configs, land each bot's state where
the units and docs/OPERATOR.md say: /var/lib/mmtrio/<bot>/ (journal, control.sock, KILL).

The script needs root and apt, so its rewrite functions are extracted from it and run in bash
exactly as written; the result is validated the way `mmtrio config check` does (load_config),
with MMTRIO_STATE_ROOT as the unit sets it and a HOME that must not matter.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mmtrio.config import load_config
from tests.unit.test_ops import unit_directives

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "ops" / "install-rpi.sh"
GUIDE = ROOT / "docs" / "OPERATOR.md"


def shell_function(name: str) -> str:
    """The text of the bash function ``name`` in the install script."""
    found = re.search(rf"^{name}\(\) \{{.*?^\}}\n", SCRIPT.read_text(), re.DOTALL | re.MULTILINE)
    assert found, f"{name}() not in {SCRIPT}"
    return found.group(0)


def run_function(name: str, *args: str) -> str:
    script = f'{shell_function(name)}\n{name} "$@"\n'
    return subprocess.run(
        ["bash", "-c", script, "install-rpi", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


def unit_state_root(unit: str) -> str:
    env = dict(e.split("=", 1) for e in unit_directives(unit)["Service"]["Environment"])
    return env["MMTRIO_STATE_ROOT"]


@pytest.fixture
def as_the_unit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The environment the units give the bot (HOME elsewhere: it must not decide)."""
    assert unit_state_root("mmtrio.service") == unit_state_root("mmtrio@.service")
    monkeypatch.setenv("MMTRIO_STATE_ROOT", unit_state_root("mmtrio.service"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)


@pytest.mark.usefixtures("as_the_unit")
def test_single_bot_install_puts_state_where_the_guide_says(tmp_path: Path) -> None:
    prefix = tmp_path / "opt"
    prefix.mkdir()
    (prefix / "src-tree").symlink_to(ROOT)  # the installed tree's recordings
    conf = tmp_path / "config.toml"
    conf.write_text(run_function("default_config", str(ROOT / "config.toml"), str(prefix)))
    text = conf.read_text()
    assert "json = true" in text
    cfg = load_config(conf)
    assert cfg.runtime.name == "binance-paper"
    state = Path("/var/lib/mmtrio/binance-paper")
    assert cfg.runtime.state_dir == state
    assert cfg.runtime.control_socket == state / "control.sock"
    assert cfg.risk.kill_file == state / "KILL"
    assert cfg.sim is not None
    assert [Path(f) for f in cfg.sim.data_files] == [
        prefix / "src-tree/data/binance-usdm/btcusdt_20240808.gz"
    ]
    guide = GUIDE.read_text()
    assert "sudo -u mmtrio touch /var/lib/mmtrio/binance-paper/KILL" in guide
    assert "touch /var/lib/mmtrio/KILL" not in guide


@pytest.mark.usefixtures("as_the_unit")
def test_instance_install_puts_state_in_the_instance_directory(tmp_path: Path) -> None:
    init = tmp_path / "init"
    subprocess.run(
        [sys.executable, "-m", "mmtrio", "init", str(init)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    data = ROOT / "data/binance-usdm/ethusdt_20240808.gz"
    conf = tmp_path / "ethusdt.toml"
    conf.write_text(
        run_function(
            "instance_config", str(init / "config.toml"), "ethusdt", "ETHUSDT", "9465", str(data)
        )
    )
    cfg = load_config(conf, name="ethusdt")  # the template unit passes --name %i
    state = Path("/var/lib/mmtrio/ethusdt")
    assert cfg.runtime.name == "ethusdt"
    assert cfg.venue.symbol == "ETHUSDT"
    assert cfg.metrics.port == 9465
    assert cfg.logging.json_lines
    assert cfg.sim is not None
    assert [Path(f) for f in cfg.sim.data_files] == [data]
    assert cfg.runtime.state_dir == state
    assert cfg.runtime.control_socket == state / "control.sock"
    assert cfg.risk.kill_file == state / "KILL"
    guide = GUIDE.read_text()
    assert "/var/lib/mmtrio/<instance>/KILL" in guide
