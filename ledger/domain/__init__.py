"""The domain: events, catalogue, attribution, the hash chain, the processing fold, periods
and money. Pure: no I/O, and nothing of the store, streams, billing or entry points."""
