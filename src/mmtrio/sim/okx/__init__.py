"""The simulated OKX venue's front end: OKX v5 REST and WebSocket over the shared engine."""
