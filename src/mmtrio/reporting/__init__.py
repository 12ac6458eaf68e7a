"""mmtrio.reporting: the session report (P&L attribution, markouts, inventory, drawdown).

Pure computation on plain records (``pnl``), a read-only journal reader (``journal_read``,
stdlib sqlite3) and a self-contained HTML rendering (``html``). No Trio, no runtime imports,
so the backtester produces the same report from its own fills.
"""
