"""mmtrio.runtime."""
