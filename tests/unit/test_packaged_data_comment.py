"""The `[sim] data_files` comment of the packaged config (what `mmtrio init` writes) says what
really works: it names the packaged sample, and its example, uncommented beside a file at that
path, loads."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mmtrio.cli import main
from mmtrio.config import load_config
from mmtrio.packaged import SAMPLE_RECORDING

EXAMPLE = re.compile(r'^# (data_files = \["([^"]+)"\])', re.MULTILINE)


def test_the_comment_names_the_sample_and_its_example_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMTRIO_STATE_ROOT", str(tmp_path / "state"))
    assert main(["init", str(tmp_path / "bot")]) == 0
    cfg = tmp_path / "bot" / "config.toml"
    text = cfg.read_text()
    start = text.index("# data_files = ")
    comment = text[start : text.index("\nsynthetic = ", start)]
    assert SAMPLE_RECORDING.name in comment and SAMPLE_RECORDING.is_file()
    m = EXAMPLE.search(text)
    assert m is not None, "no `# data_files = [...]` example"
    target = cfg.parent / m.group(2)
    assert not Path(m.group(2)).is_absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SAMPLE_RECORDING, target)  # a recording where the example says
    cfg.write_text(text.replace(m.group(0), m.group(1), 1))
    config = load_config(cfg)
    assert config.sim is not None and config.sim.data_files == [target.resolve()]
