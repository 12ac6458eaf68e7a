"""mmtrio.venues.binance."""
