"""Binance's listen key: the user-data stream's session, its life and its expiry.

One key per paper account. ``POST /fapi/v1/listenKey`` returns the active key (Binance
returns the same one while it is valid) and renews its life; ``PUT`` renews it; ``DELETE``
closes it. A key not renewed within ``SimConfig.session_ttl_s`` expires: the user streams get
``listenKeyExpired`` and are closed. Keys come from the venue's seeded RNG; time is Trio's.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue


class ListenKeys:
    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self.key: str | None = None
        self.deadline = 0.0

    def get(self) -> str:
        """The active key (a new one if none), its life renewed."""
        if self.key is None:
            raw = self.venue.rng.getrandbits(48 * 8).to_bytes(48, "big")
            self.key = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        self.deadline = trio.current_time() + self.venue.config.session_ttl_s
        return self.key

    def close(self, reason: str) -> None:
        """Forget the key and close the user streams (no notice: the client asked)."""
        if self.key is not None:
            self.key = None
            self.venue.hub.close_user_streams(reason)

    def expire(self, reason: str = "listen key expired") -> None:
        """``listenKeyExpired`` on the user streams, then close them."""
        if self.key is None:
            return
        venue = self.venue
        venue.hub.publish_user(
            {"e": "listenKeyExpired", "E": venue.out_ts(), "listenKey": self.key}
        )
        self.key = None
        venue.hub.close_user_streams(reason)

    async def run(self) -> None:
        """Expire the key when its life ends (checked every 50 ms)."""
        while True:
            await trio.sleep(0.05)
            if self.key is not None and trio.current_time() >= self.deadline:
                self.expire()
