"""The compiled replay core: book application, queue position, latency and matching in numba,
over an event store's memory-mapped arrays; the live strategy is called from Python only at
decision points (:mod:`mmtrio.backtest.decisions`).

Modules: :mod:`.slots` (the layout of the state the kernels share), :mod:`.jit` (numba,
cached to disk, optional), :mod:`.book` (dense price-indexed book sides), :mod:`.matching`
(our orders against the recorded book: the port of :mod:`mmtrio.exchange.matching`),
:mod:`.loop` (the merged time loop: venue, engine and strategy view), :mod:`.adapter` (the
matching engine's Python interface over the kernels) and :mod:`.engine` (the run).
"""
