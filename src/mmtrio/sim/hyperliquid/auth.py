"""Who may act on the paper account, and with which nonces: verified on every action.

**Signatures.** Every ``/exchange`` action (REST or websocket ``post``) is L1-signed; the
simulated venue recomputes the action hash from the action *as the venue re-encodes it*
(number strings canonical: "60000.0" is hashed as "60000", which is why a client that sends
trailing zeros recovers a stranger, as on Hyperliquid), recovers the signer from ``(r, s,
v)`` and accepts the action only when the signer is the account itself or an agent the
account approved. Anything else is refused in the venue's words: "User or API Wallet 0x…
does not exist." The network (phantom agent ``source`` "a" mainnet, "b" testnet) is the
simulated venue's: testnet, unless ``mmtrio sim --mainnet-signing``.

**Nonces** (Hyperliquid's "Nonces and API wallets"): per signer the 100 highest are kept; a
new nonce must not repeat, must exceed the smallest of them once 100 are kept, and must lie
within (T − 2 days, T + 1 day) of the venue's time.

**Paper keys.** The account and its approved agent are fixed public test keys (derived from
fixed phrases, printed by ``mmtrio sim --venue hyperliquid --json``): never use them for
anything real.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from typing import Any

from mmtrio.errors import ConfigError, ProtocolError
from mmtrio.sim.hyperliquid.grid import canonical_number
from mmtrio.sim.hyperliquid.words import (
    BAD_SIGNER,
    EXPIRED,
    NONCE_DUPLICATE,
    NONCE_TOO_LOW,
    NONCE_WINDOW,
)
from mmtrio.venues.hyperliquid.signing import (
    AgentKey,
    Signature,
    normalise_address,
    recover_l1_signer,
)

PAPER_ACCOUNT_KEY = "0x" + hashlib.sha256(b"mmtrio paper hyperliquid account").hexdigest()
PAPER_AGENT_KEY = "0x" + hashlib.sha256(b"mmtrio paper hyperliquid agent").hexdigest()
NONCES_KEPT = 100
DAY_MS = 86_400_000
_NUMBER_KEYS = frozenset({"p", "s", "triggerPx"})


class ActionRefused(Exception):
    """The venue refuses the whole action: ``{"status": "err", "response": text}``."""


def canonical(value: Any, key: str = "") -> Any:
    """The action as the venue re-encodes it before hashing (number strings canonical)."""
    if isinstance(value, dict):
        return {k: canonical(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v, key) for v in value]
    return canonical_number(value) if key in _NUMBER_KEYS else value


@dataclass
class NonceBook:
    """The highest nonces used per signer (module docstring)."""

    kept: dict[str, list[int]] = field(default_factory=dict)

    def use(self, signer: str, nonce: int, now_ms: int) -> None:
        if not now_ms - 2 * DAY_MS < nonce < now_ms + DAY_MS:
            raise ActionRefused(NONCE_WINDOW.format(nonce=nonce))
        kept = self.kept.setdefault(signer, [])
        i = bisect.bisect_left(kept, nonce)
        if i < len(kept) and kept[i] == nonce:
            raise ActionRefused(NONCE_DUPLICATE.format(nonce=nonce))
        if len(kept) >= NONCES_KEPT and nonce < kept[0]:
            raise ActionRefused(NONCE_TOO_LOW.format(nonce=nonce))
        kept.insert(i, nonce)
        if len(kept) > NONCES_KEPT:
            del kept[0]


@dataclass
class Accounts:
    """The paper account, its approved agents and the signing network."""

    account: str
    agents: set[str]
    agent_key: str  # what `mmtrio sim --json` prints for clients
    mainnet: bool = False
    nonces: NonceBook = field(default_factory=NonceBook)

    @classmethod
    def paper(cls, private_key: str | None = None, account: str | None = None,
              mainnet: bool = False) -> Accounts:  # fmt: skip
        key = AgentKey(private_key or PAPER_AGENT_KEY)
        owner = (
            normalise_address(account, "account")
            if account
            else AgentKey(PAPER_ACCOUNT_KEY).address
        )
        return cls(owner, {key.address}, private_key or PAPER_AGENT_KEY, mainnet)

    def is_account(self, user: object) -> bool:
        return isinstance(user, str) and user.lower() == self.account

    def verify(self, body: dict[str, Any], now_ms: int) -> str:
        """The signer of an ``/exchange`` body, once everything checks; ActionRefused else.
        ProtocolError: the body is not an action at all (HTTP 422)."""
        action, nonce = body.get("action"), body.get("nonce")
        if not isinstance(action, dict) or not isinstance(action.get("type"), str):
            raise ProtocolError("action must be an object with a type")
        if isinstance(nonce, bool) or not isinstance(nonce, int) or nonce < 0:
            raise ProtocolError("nonce must be a non-negative integer")
        vault = body.get("vaultAddress")
        expires = body.get("expiresAfter")
        if vault is not None and not isinstance(vault, str):
            raise ProtocolError("vaultAddress must be an address")
        if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int)):
            raise ProtocolError("expiresAfter must be an integer")
        signature = Signature.from_wire(body.get("signature"))
        try:
            signer = recover_l1_signer(
                canonical(action), signature, nonce, mainnet=self.mainnet,
                vault=vault, expires_after=expires,
            )  # fmt: skip
        except (ProtocolError, ConfigError):
            raise ActionRefused(BAD_SIGNER.format(address="0x" + "0" * 40)) from None
        if signer not in self.agents and signer != self.account:
            raise ActionRefused(BAD_SIGNER.format(address=signer))
        if vault is not None and vault.lower() != self.account:
            raise ActionRefused(BAD_SIGNER.format(address=vault.lower()))
        if expires is not None and expires < now_ms:
            raise ActionRefused(EXPIRED.format(expires=expires))
        self.nonces.use(signer, nonce, now_ms)
        return signer
