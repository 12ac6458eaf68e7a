"""mmtrio: a market maker for crypto perpetual futures, on Trio."""

__version__ = "0.1.0"
