"""Benchmarks run by `make bench`; figures are quoted in the README."""
