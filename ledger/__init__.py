"""Pay-per-use usage ledger: the domain (events, catalogue, attribution, chain) and its CLI."""
