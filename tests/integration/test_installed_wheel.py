"""The installed wheel, used the way the documentation says, from an empty directory.

What is honest here, and why it is this way:

- The wheel is built from this checkout (``pip wheel --no-deps``) and installed with ``pip
  install`` into a **fresh venv** (``python -m venv``, no ``--system-site-packages``): its
  dependencies are resolved and installed by pip as on a user's machine, from the configured
  index (pip's own cache makes repeated runs fast; nothing is copied from the project's venv).
  An editable install, or a venv that sees the project's site-packages, would hide a missing
  dependency or a file left out of the wheel, which is exactly what this test is for.
- Every command runs with the **current directory an empty temporary directory**, the venv's
  ``bin`` first on PATH, no PYTHONPATH, and ``XDG_STATE_HOME`` pointed into the temporary
  directory (so the per-user state directory is exercised without touching the real one). The
  test checks that ``mmtrio`` is imported from the venv, not from the checkout.
- ``mmtrio run`` (no config anywhere) paper-trades on the packaged default and recording,
  headless (stdout is a pipe), for about ten seconds, then gets SIGTERM and must exit 0.
  While it runs, the README's "from another terminal" commands and OPERATOR.md's ``mmtrio``
  commands run **verbatim**, with only their install prefix (``.venv/bin/``,
  ``/opt/mmtrio/venv/bin/``, ``sudo -u mmtrio``) and their paths (``/etc/mmtrio/config.toml``
  → a config written by ``mmtrio init``, which names the same bot; ``/var/lib/mmtrio`` → the
  state root; ``<pid>`` → the bot's pid) substituted. Each must exit 0.
- Then ``mmtrio report`` and ``mmtrio report --html`` on the stopped bot's journal, and
  ``mmtrio init`` + ``mmtrio config check``.

Cost: building the wheel (~7 s) and installing it with its dependencies (~25 s from pip's
cache; the first run on a machine downloads them), plus the ~10 s run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUN_SECONDS = 10.0


@dataclass(frozen=True)
class Installed:
    venv: Path
    bin: Path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    wheels = tmp / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("mmtrio-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return Installed(venv, venv / "bin")


def env_for(inst: Installed, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MMTRIO_", "PYTHON"))}
    env["PATH"] = f"{inst.bin}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_STATE_HOME"] = str(home / "xdg-state")
    env["VIRTUAL_ENV"] = str(inst.venv)
    return env


def sh(cmd: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> str:
    """Run one documented command line with bash; it must exit 0. Returns stdout."""
    r = subprocess.run(
        ["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    assert r.returncode == 0, f"{cmd!r} exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr}"
    return r.stdout


def code_blocks(path: Path) -> Iterator[str]:
    text = path.read_text()
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        yield from block.splitlines()


def readme_commands() -> list[str]:
    """The README's "from another terminal" block, each line without its comment."""
    text = (ROOT / "README.md").read_text()
    block = text.split("From another terminal", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [ln.split("  #", 1)[0].strip() for ln in block.splitlines()]
    return [ln for ln in lines if ln]


def operator_commands() -> list[str]:
    """OPERATOR.md's `mmtrio` command lines (not `run`: the bot is already running), for the
    bot of /etc/mmtrio/config.toml, plus its curl of the metrics."""
    out = []
    for raw in code_blocks(ROOT / "docs" / "OPERATOR.md"):
        line = raw.split("  #", 1)[0].strip()
        if line.startswith("mm() "):
            continue  # the guide's shorthand itself (section 1): its lines are run below
        if line.startswith("mm "):  # = mmtrio as the mmtrio user, MMTRIO_STATE_ROOT set
            line = "mmtrio " + line.removeprefix("mm ")
        elif "/opt/mmtrio/venv/bin/mmtrio" not in line and not line.startswith("curl "):
            continue
        if " run " in f"{line} " or "ethusdt" in line:
            continue  # the foreground run; a second instance (section 10)
        out.append(line)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def substitute(
    line: str, *, config: Path, root: Path, pid: int, tmp: Path, metrics_port: int
) -> str:
    line = line.removeprefix("sudo -u mmtrio ")
    line = line.replace("127.0.0.1:9464/", f"127.0.0.1:{metrics_port}/")
    line = line.replace("/opt/mmtrio/venv/bin/mmtrio", "mmtrio").replace(
        ".venv/bin/mmtrio", "mmtrio"
    )
    line = line.replace("/etc/mmtrio/config.toml", str(config)).replace(
        "/var/lib/mmtrio", str(root)
    )
    return line.replace("<pid>", str(pid)).replace("/tmp/report.html", str(tmp / "op.html"))


@pytest.fixture
def short_home() -> Iterator[Path]:
    """A short home for the bot's state: its control socket lives there, and a Unix socket
    path holds at most 107 bytes (pytest-xdist's ``popen-gw1/`` made tmp_path's 116, and
    ``mmtrio config check`` rightly refused it)."""
    home = Path(tempfile.mkdtemp(prefix="mmw-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_installed_wheel_runs_the_documented_commands_from_an_empty_directory(
    installed: Installed, tmp_path: Path, short_home: Path
) -> None:
    env = env_for(installed, short_home)
    root = short_home / "xdg-state" / "mmtrio"
    workdir = tmp_path / "empty"
    workdir.mkdir()
    where = sh("python -c 'import mmtrio; print(mmtrio.__file__)'", workdir, env)
    assert where.startswith(str(installed.venv)), where

    # mmtrio init (another directory): the same bot as the packaged default, for OPERATOR.md's
    # --config /etc/mmtrio/config.toml commands.
    etc = tmp_path / "etc"
    assert "wrote" in sh(f"mmtrio init {etc}", workdir, env)
    sh(f"mmtrio config check {etc / 'config.toml'}", workdir, env)

    assert list(workdir.iterdir()) == []
    out_path = tmp_path / "run.out"
    with out_path.open("w") as out:
        # The packaged default metrics port (9464) may be held by another bot on a shared
        # machine: the documented command with its port moved, and the curl follows it.
        metrics_port = free_port()
        bot = subprocess.Popen(
            ["mmtrio", "run", "--set", f"metrics.port={metrics_port}"],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            t0 = time.monotonic()
            status: dict[str, object] = {}
            while time.monotonic() - t0 < 60:
                r = subprocess.run(
                    ["mmtrio", "status"], cwd=workdir, env=env, capture_output=True, text=True,
                    timeout=30, check=False,
                )  # fmt: skip
                if r.returncode == 0:
                    status = json.loads(r.stdout)
                    if isinstance(status.get("strategy"), dict):
                        break
                assert bot.poll() is None, out_path.read_text()[-3000:]
                time.sleep(0.5)
            assert status.get("schema") == "mmtrio.status/2", status
            assert status["bot"] == "binance-paper" and status["pid"] == bot.pid
            for line in readme_commands() + operator_commands():
                sh(
                    substitute(
                        line,
                        config=etc / "config.toml",
                        root=root,
                        pid=bot.pid,
                        tmp=tmp_path,
                        metrics_port=metrics_port,
                    ),
                    workdir,
                    env,
                )
            # OPERATOR.md's upgrade section ends with a kill ("flat first"): resume, so that
            # SIGTERM is a clean stop (exit 0) rather than a stop with the switch latched (3).
            sh("mmtrio resume", workdir, env)
            time.sleep(max(0.0, RUN_SECONDS - (time.monotonic() - t0)))
            bot.send_signal(signal.SIGTERM)
            code = bot.wait(timeout=60)
        finally:
            if bot.poll() is None:
                bot.kill()
    log = out_path.read_text()
    assert code == 0, log[-3000:]
    assert "using the packaged default config" in log
    assert f"state directory {root / 'binance-paper'}" in log
    assert "zero open orders confirmed at the venue" in log and "exit summary" in log

    text = sh("mmtrio report", workdir, env)
    assert text.startswith("BTCUSDT  ") and "UTC" in text
    html = (workdir / "report.html").read_text()  # written by the README's --html line
    assert html.count("<img") == 4
    assert (tmp_path / "op.html").is_file()  # OPERATOR.md's --html line
    # Nothing but the report the README asked for was written to the working directory.
    assert sorted(p.name for p in workdir.iterdir()) == ["report.html"]
    assert shutil.which("mmtrio", path=env["PATH"]) == str(installed.bin / "mmtrio")
