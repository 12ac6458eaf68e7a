"""The simulated venue's Binance USD-M front end (see :mod:`mmtrio.sim.binance.frontend`)."""
