"""Files shipped inside the wheel so that an installed `mmtrio` can run on its own.

``config.toml`` is the default configuration (paper trading on the built-in sim) and
``btcusdt_20230404.dat.gz`` the small recording it replays; provenance and licence are in
``README.md`` and ``LICENSE-hftbacktest`` beside them. Paths are real files (setuptools installs
package data unzipped), so the sim can open the recording like any other.
"""

from __future__ import annotations

from pathlib import Path

PACKAGED_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = PACKAGED_DIR / "config.toml"
SAMPLE_RECORDING = PACKAGED_DIR / "btcusdt_20230404.dat.gz"

__all__ = ["DEFAULT_CONFIG", "PACKAGED_DIR", "SAMPLE_RECORDING"]
