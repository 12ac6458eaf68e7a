"""mmtrio.sim.hyperliquid: the Hyperliquid protocol front end of the simulated venue."""
