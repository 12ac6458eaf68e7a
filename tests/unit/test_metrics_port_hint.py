"""A busy metrics port names the one-run fix too (`--set metrics.port=N`).

QA (Hyperliquid paper bot beside another paper bot): both run on the packaged config (no
./config.toml), and the refusal said only "set [metrics] port in …/site-packages/mmtrio/
packaged/config.toml", a file that is not the operator's to edit."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mmtrio.cli.preflight import check_metrics_port
from mmtrio.config import load_config
from mmtrio.errors import ConfigError
from mmtrio.packaged import DEFAULT_CONFIG


def test_a_busy_metrics_port_names_the_set_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMTRIO_STATE_ROOT", str(tmp_path))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        cfg = load_config(DEFAULT_CONFIG, overrides=[f"metrics.port={port}"])
        with pytest.raises(ConfigError) as info:
            check_metrics_port(cfg, DEFAULT_CONFIG)
    said = str(info.value)
    assert f"metrics port 127.0.0.1:{port} is already in use" in said
    assert "for one run: `--set metrics.port=N`" in said
