"""mmtrio.venues."""
