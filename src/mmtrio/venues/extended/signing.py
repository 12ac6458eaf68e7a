"""Extended's Stark order signature: the settlement amounts, the order hash, the signature.

Every Extended order carries a Stark signature over the order message hash (Extended's
"settlement"). The hash is computed by ``fast_stark_crypto.get_order_msg_hash`` (a compiled,
maintained library, the one Extended's own SDK uses), over:

- the position id (the account's vault number, ``[venue] account``);
- the synthetic asset id and amount, the collateral asset id and amount, and the fee asset
  (the collateral) and fee amount, all in Stark units: an amount times the market's
  ``l2Config`` resolution;
- the expiration in whole seconds: the order's expiry plus a 14-day settlement buffer;
- the salt (the order's ``nonce``, :mod:`.nonces`) and the signer's public key;
- the signing domain ``{name "Perpetuals", version "v0", chainId, revision "1"}``, chainId
  ``SN_MAIN`` on mainnet and ``SN_SEPOLIA`` on the Sepolia testnet.

Rounding per side (so the signed amounts never promise more than the order text): a buy
rounds its synthetic and collateral amounts up and pays collateral (collateral negative); a
sell rounds both down and delivers synthetic (synthetic negative); the fee (``fee rate ×
qty × price``, the highest fee the order accepts) always rounds up.

Sources: the official SDK ``x10-python-trading-starknet`` 2.6.0, ``x10/signing/
order_object_settlement.py`` and ``x10/core/amount.py`` (read, not copied), and its test
``tests/signing/order_object/test_limit_order_object.py``, whose frozen order hashes and
signatures are this module's known-answer test (``tests/unit/test_extended_signing.py``).

``fast_stark_crypto`` is imported on first use, so ``mmtrio`` runs without the ``extended``
extra for every other venue; a missing library is a :class:`~mmtrio.errors.ConfigError` that
names the extra. Signing is in-process (no subprocess, nothing to time out): about a quarter
of a millisecond per order (``benchmarks/extended_signing.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from types import ModuleType
from typing import Literal

from mmtrio.errors import ConfigError

__all__ = [
    "MAINNET_DOMAIN",
    "SETTLEMENT_BUFFER_S",
    "TESTNET_DOMAIN",
    "Domain",
    "L2Assets",
    "Settlement",
    "StarkKey",
    "settlement_amounts",
    "stark_crypto",
]

SETTLEMENT_BUFFER_S = 14 * 86_400
"""The SDK signs ``expiry + 14 days`` (whole seconds, rounded up) as the settlement expiry."""
NONCE_MAX = 2**31
"""Extended's API: ``nonce`` is a number >= 1 and <= 2^31."""
EXTRA_HINT = "pip install 'mmtrio[extended]'"


def stark_crypto() -> ModuleType:
    """``fast_stark_crypto``, or a ConfigError naming the extra that installs it."""
    try:
        import fast_stark_crypto
    except ImportError as exc:
        raise ConfigError(
            "Extended orders are signed with the fast-stark-crypto library, which is not "
            f"installed: {EXTRA_HINT}"
        ) from exc
    return fast_stark_crypto


@dataclass(frozen=True, slots=True)
class Domain:
    """The SNIP-12 signing domain of Extended's perpetuals."""

    chain_id: str
    name: str = "Perpetuals"
    version: str = "v0"
    revision: str = "1"


MAINNET_DOMAIN = Domain("SN_MAIN")
TESTNET_DOMAIN = Domain("SN_SEPOLIA")


@dataclass(frozen=True, slots=True)
class L2Assets:
    """A market's ``l2Config``: the Stark asset ids and how many units make one asset unit."""

    synthetic_id: int
    synthetic_resolution: int
    collateral_id: int
    collateral_resolution: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """What one order's signature covers, and the signature (all in Stark units)."""

    synthetic_amount: int  # signed: negative for a sell
    collateral_amount: int  # signed: negative for a buy
    fee_amount: int
    expiration_s: int
    nonce: int
    order_hash: int
    r: int
    s: int


def _units(value: Decimal, resolution: int, rounding: str) -> int:
    return int((value * resolution).to_integral_value(rounding=rounding))


def settlement_amounts(
    side: Literal["BUY", "SELL"], qty: Decimal, price: Decimal, fee_rate: Decimal, l2: L2Assets
) -> tuple[int, int, int]:
    """(synthetic, collateral, fee) in Stark units, signed and rounded per side (module doc)."""
    buy = side == "BUY"
    rounding = ROUND_CEILING if buy else ROUND_FLOOR
    value = qty * price
    synthetic = _units(qty, l2.synthetic_resolution, rounding)
    collateral = _units(value, l2.collateral_resolution, rounding)
    fee = _units(fee_rate * value, l2.collateral_resolution, ROUND_CEILING)
    if buy:
        return synthetic, -collateral, fee
    return -synthetic, collateral, fee


def settlement_expiration_s(expiry_ms: int) -> int:
    """The expiry the hash signs: the order's expiry (ms) plus the buffer, in whole seconds."""
    return math.ceil(expiry_ms / 1000) + SETTLEMENT_BUFFER_S


class StarkKey:
    """One account's Stark key pair and vault: hashes and signs orders.

    The private key is kept as an int and never printed (``repr`` shows the public key only).
    """

    def __init__(self, private_key_hex: str, vault: int, domain: Domain) -> None:
        text = private_key_hex.strip().lower()
        digits = text.removeprefix("0x")
        if not digits or len(digits) > 64 or any(c not in "0123456789abcdef" for c in digits):
            raise ConfigError(
                "the Stark private key must be a hex number (0x…, at most 64 hex digits), "
                "as Extended's API management page shows it"
            )
        private = int(digits, 16)
        if private == 0:
            raise ConfigError("the Stark private key is zero")
        if not 0 < vault < 2**63:
            raise ConfigError(f"the vault (position id) must be a positive integer, got {vault}")
        self._crypto = stark_crypto()
        self._private = private
        self.public_key: int = self._crypto.get_public_key(private)
        self.vault = vault
        self.domain = domain

    def __repr__(self) -> str:
        return f"StarkKey(public={self.public_key:#x}, vault={self.vault}, {self.domain.chain_id})"

    def order_hash(  # noqa: PLR0917 - the hash's own fields
        self,
        l2: L2Assets,
        synthetic_amount: int,
        collateral_amount: int,
        fee_amount: int,
        expiration_s: int,
        nonce: int,
    ) -> int:
        return order_hash(
            self._crypto,
            vault=self.vault,
            l2=l2,
            synthetic_amount=synthetic_amount,
            collateral_amount=collateral_amount,
            fee_amount=fee_amount,
            expiration_s=expiration_s,
            nonce=nonce,
            public_key=self.public_key,
            domain=self.domain,
        )

    def settle(  # noqa: PLR0917 - one order's fields
        self,
        side: Literal["BUY", "SELL"],
        qty: Decimal,
        price: Decimal,
        fee_rate: Decimal,
        l2: L2Assets,
        expiry_ms: int,
        nonce: int,
    ) -> Settlement:
        """The amounts, hash and signature of one order."""
        if not 1 <= nonce <= NONCE_MAX:
            raise ConfigError(f"nonce {nonce} is outside Extended's range 1..2^31")
        synthetic, collateral, fee = settlement_amounts(side, qty, price, fee_rate, l2)
        expiration = settlement_expiration_s(expiry_ms)
        digest = self.order_hash(l2, synthetic, collateral, fee, expiration, nonce)
        r, s = self._crypto.sign(private_key=self._private, msg_hash=digest)
        return Settlement(synthetic, collateral, fee, expiration, nonce, digest, r, s)


def order_hash(
    crypto: ModuleType,
    *,
    vault: int,
    l2: L2Assets,
    synthetic_amount: int,
    collateral_amount: int,
    fee_amount: int,
    expiration_s: int,
    nonce: int,
    public_key: int,
    domain: Domain,
) -> int:
    """Extended's order message hash (shared by the connector and the simulated venue)."""
    digest: int = crypto.get_order_msg_hash(
        position_id=vault,
        base_asset_id=l2.synthetic_id,
        base_amount=synthetic_amount,
        quote_asset_id=l2.collateral_id,
        quote_amount=collateral_amount,
        fee_asset_id=l2.collateral_id,
        fee_amount=fee_amount,
        expiration=expiration_s,
        salt=nonce,
        user_public_key=public_key,
        domain_name=domain.name,
        domain_version=domain.version,
        domain_chain_id=domain.chain_id,
        domain_revision=domain.revision,
    )
    return digest


def verify(public_key: int, digest: int, r: int, s: int) -> bool:
    """True when ``(r, s)`` is ``public_key``'s signature of ``digest``."""
    crypto = stark_crypto()
    try:
        return bool(crypto.verify(public_key, digest, r, s))
    except (ValueError, OverflowError, TypeError):
        return False  # out-of-range r/s: not a signature
