"""The optional extra ``mmtrio[hyperliquid]``: imported only when Hyperliquid is used.

``pip install mmtrio`` (the README's first command) must keep working without the elliptic
curve and msgpack libraries, so nothing at module level in this package imports them; the
code that needs them calls :func:`crypto` and gets a :class:`~mmtrio.errors.ConfigError`
naming the extra when they are missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from mmtrio.errors import ConfigError

EXTRA = "hyperliquid"
INSTALL_HINT = f"pip install 'mmtrio[{EXTRA}]'"


@dataclass(frozen=True, slots=True)
class Crypto:
    """The three libraries signing needs (module objects)."""

    coincurve: Any
    msgpack: Any
    keccak: Any  # eth_hash.auto.keccak: bytes -> 32-byte digest


@cache
def crypto() -> Crypto:
    """The signing libraries; ConfigError naming the extra when one is missing."""
    try:
        import coincurve
        import msgpack
        from eth_hash.auto import keccak
    except ImportError as exc:
        raise ConfigError(
            f"Hyperliquid needs the optional dependencies of mmtrio[{EXTRA}] "
            f"({exc.name or exc} is not installed): {INSTALL_HINT}"
        ) from None
    try:
        keccak(b"")  # eth-hash picks its backend on first use: fail here, named
    except Exception as exc:  # eth_hash raises a bare ImportError subclass or ValueError
        raise ConfigError(
            f"Hyperliquid needs a keccak backend for eth-hash ({exc}): {INSTALL_HINT}"
        ) from None
    return Crypto(coincurve=coincurve, msgpack=msgpack, keccak=keccak)
