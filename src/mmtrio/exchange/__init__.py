"""The exchange side, pure: matching with queue position, latency models.

Used by the simulated venue and the backtester, never by the bot (DESIGN.md §2): the bot's
core must not know how a venue matches, or a backtest would be judged by the strategy's own
assumptions. Imports only ``mmtrio.core`` (events, instruments) and ``mmtrio.errors``.
"""
