"""mmtrio.backtest."""
