"""Tools the suite needs from Debian packages (Prometheus's ``prometheus``/``promtool``,
Alertmanager's ``amtool``), fetched by the suite itself when the machine lacks them.

A tool on ``PATH`` is used as is. Otherwise, on a Debian-like machine, the package is fetched
with ``apt-get download`` (no root needed: it only downloads, from the mirrors the machine is
already configured for) and unpacked with ``dpkg-deb -x`` into a per-user cache
(``platformdirs.user_cache_dir("mmtrio-tests")/debian/<package>``), once per machine; these
are Go binaries that need only libc. The caller skips, naming what was tried and how to
install the tool, only when neither works (not Debian, no network, an apt without package
lists). ``MMTRIO_TEST_NO_DOWNLOAD=1`` turns the download off.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import platformdirs


def cache_root() -> Path:
    return Path(platformdirs.user_cache_dir("mmtrio-tests")) / "debian"


def debian_tool(binary: str, package: str) -> tuple[str | None, str]:
    """``(path, "")`` to run ``binary`` from Debian's ``package``, or ``(None, why not)``."""
    found = shutil.which(binary)
    if found:
        return found, ""
    unpacked = cache_root() / package
    candidate = unpacked / "usr" / "bin" / binary
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate), ""
    if os.environ.get("MMTRIO_TEST_NO_DOWNLOAD") == "1":
        return None, f"{binary} not on PATH and MMTRIO_TEST_NO_DOWNLOAD=1 (apt install {package})"
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            return None, f"{binary} not on PATH and no {tool} to fetch it (install {package})"
    unpacked.parent.mkdir(parents=True, exist_ok=True)
    # One download per machine, whichever pytest-xdist worker gets here first.
    with open(unpacked.parent / f".{package}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate), ""
        why = _fetch(package, unpacked)
    if why:
        return None, f"{binary} not on PATH; {why} (install {package})"
    if not (candidate.is_file() and os.access(candidate, os.X_OK)):
        return None, f"{binary} not on PATH; Debian's {package} has no usr/bin/{binary}"
    return str(candidate), ""


def _fetch(package: str, dest: Path) -> str:
    """Download and unpack ``package`` into ``dest``; an empty string, or what went wrong."""
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        got = subprocess.run(
            ["apt-get", "download", package],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        debs = sorted(Path(tmp).glob(f"{package}_*.deb"))
        if got.returncode != 0 or not debs:
            last = (got.stderr.strip().splitlines() or ["no .deb"])[-1]
            return f"`apt-get download {package}` failed: {last}"
        staging = Path(tmp) / "root"
        unpack = subprocess.run(
            ["dpkg-deb", "-x", str(debs[0]), str(staging)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if unpack.returncode != 0:
            return f"`dpkg-deb -x` failed: {unpack.stderr.strip()}"
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    return ""
