"""The pure trading core: synchronous, deterministic, no I/O, no clock reads.

Time is always an argument. Prices are integer ticks and sizes integer lots of an
:class:`~mmtrio.core.instruments.Instrument`; ``Decimal`` appears only where venue strings
are converted, and no float ever decides a price sent to a venue.
"""
