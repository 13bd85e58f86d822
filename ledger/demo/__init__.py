"""Data generators for demos and benchmarks (outside the domain: they only use it)."""
