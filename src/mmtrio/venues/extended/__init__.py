"""Extended, a Starknet perpetuals DEX (formerly X10), behind the venue seam.

Where each protocol decision came from (nothing reaches Extended from the machine this was
written on; see docs/OPERATOR.md "Extended" for what was and was not verified):

- Extended's API documentation (``api.docs.extended.exchange``): endpoints under
  ``/api/v1``, the wrapped ``{"status", "data", "error"}`` answers, error codes, order
  statuses and reasons, the rate limit, the dead-man switch ("Mass Auto-Cancel"), the stream
  paths and message shapes, the order book's ``seq`` rule;
- the official Python SDK ``x10-python-trading-starknet`` 2.6.0 (read, not copied; in the
  ``test`` extra as an oracle): the Stark order hash and its rounding
  (``x10/signing/order_object_settlement.py``), the signing domains and URLs
  (``x10/config.py``), the models of markets, orders, trades, positions and balances, and its
  frozen-time test vectors (the known-answer test);
- ``fast-stark-crypto`` 0.5.0 (the ``extended`` extra): the order hash and the signature.

Modules: :mod:`.signing` (Stark order hash and signature), :mod:`.nonces`, :mod:`.codec`
and :mod:`.codec_stream` (payloads), :mod:`.sequencer` (book continuity), :mod:`.rest`,
:mod:`.gateway`, :mod:`.streams`, :mod:`.errors` (codes → reject kinds), :mod:`.costs`,
:mod:`.client_ids`, :mod:`.venue` (the factory the registry loads).
"""
