"""mmtrio.chaos."""
