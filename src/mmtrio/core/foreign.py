"""Orders on the account that this bot did not place, named when the user stream shows them.

Another bot, a manual order in the venue's app, or the venue itself (a liquidation) can
trade the same account and symbol. Their fills move the venue's position, which the ledger
books (:mod:`mmtrio.core.order_feedback`), but the order itself was until now named only by
the next periodic reconciliation, up to ``reconcile_interval_s`` (30 s by default) later.
The operator must know at once that something else trades the account. So the first user-
stream update of an order whose client id is not one of this bot's (current or earlier
epochs) raises one ``alert`` notice naming it; the order is left alone, as reconciliation
leaves it.

An update without a client id is not named: recovery books a missed fill that the venue
lists without its order's client id (Binance's ``userTrades``) and that neither the journal,
the venue's open orders nor the gateway can name as such an update; reconciliation accounts
for it (a position gap, with its reason), and its fill notice says the bot does not know it.

Each id is named once; the memory of ids named is bounded (the oldest forgotten first), so
an account flooded with foreign orders cannot grow it without limit.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.events import OrderUpdate
from mmtrio.core.instruments import Instrument

MAX_REMEMBERED: Final = 1_000
NAMED: Final = "an order this bot did not place trades this account: "  # + the client id


class ForeignOrders:
    """Which foreign order ids have been named (see the module docstring)."""

    def __init__(self, client_ids: ClientIdGenerator, instrument: Instrument) -> None:
        self._ids = client_ids
        self._instrument = instrument
        self._named: OrderedDict[str, None] = OrderedDict()

    def named(self, client_id: str) -> bool:
        """True when this order was already named (reconciliation need not name it again)."""
        return client_id in self._named

    def is_ours(self, client_id: str) -> bool:
        """True for a client id this bot issued (any epoch); an empty id is nobody's."""
        return bool(client_id) and self._ids.is_ours(client_id)

    def first_seen(self, event: OrderUpdate) -> str | None:
        """The alert for ``event`` when it is the first sight of a foreign order, else None."""
        cid = event.client_id
        if not cid or cid in self._named or self._ids.is_ours(cid):
            return None
        self._named[cid] = None
        while len(self._named) > MAX_REMEMBERED:
            self._named.popitem(last=False)
        inst = self._instrument
        return (
            f"{NAMED}{cid} (venue id "
            f"{event.order_id}) {event.side.value} {inst.base_str(event.qty)} "
            f"{inst.base_asset or 'base units'} of {event.symbol} @ "
            f"{inst.price_str(event.price)}, {event.status.value}; "
            "left alone (its fills are booked into the position)"
        )
