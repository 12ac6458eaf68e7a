"""mmtrio.venues.hyperliquid: Hyperliquid perpetuals behind the venue seam.

Where every protocol decision came from (read, never copied): the official Python SDK
(``hyperliquid-dex/hyperliquid-python-sdk`` 0.23/0.24: ``utils/signing.py``, ``exchange.py``,
``tests/signing_test.py``), the TypeScript SDK ``nktkas/hyperliquid`` (its valibot schemas of
every request, response and subscription), and Hyperliquid's API documentation ("Exchange
endpoint", "Info endpoint", "Websocket", "Error responses", "Rate limits and user limits",
"Nonces and API wallets"). Facts seen only in third-party material say so where they are used.

The heavy dependencies (``coincurve``, ``msgpack``, ``eth-hash``) are the optional extra
``mmtrio[hyperliquid]``, imported lazily (:mod:`.deps`), so ``pip install mmtrio`` and paper
trading on Binance never need them.
"""
