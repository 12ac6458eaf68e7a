"""mmtrio.venues.okx: OKX v5 USDT-margined perpetual swaps behind the venue seam.

Where each protocol decision comes from (recorded per module): OKX's v5 API documentation
(REST and WebSocket message shapes, error codes, rate limits), read through its public
examples and the official SDK ``python-okx`` (used only as a test oracle), and ccxt's
``okx`` class (a third-party client the simulated venue is tested against).
"""
