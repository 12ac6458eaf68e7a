"""Market data at rest: the columnar event store, its readers, converters, importers,
exporters and the recorder.

Venue-neutral: everything here reads and writes the core's neutral market events
(:mod:`mmtrio.core.events`). A venue's raw recording is turned into those events by the venue
package's reader (the live codec and sequencer) and handed to :func:`mmtrio.data.convert.convert`
by the CLI, so this package imports no venue. Imports only ``mmtrio.core`` and ``mmtrio.errors``
(an import-linter contract).
"""
