"""mmtrio.sim."""
