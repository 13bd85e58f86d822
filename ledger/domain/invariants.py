"""Invariant checks that survive `python -O`.

A ledger that silently continues after a broken invariant is worse than one that
stops: every check here raises `InvariantViolation`, which nothing catches.
"""

from __future__ import annotations


class InvariantViolation(AssertionError):
    """An internal rule of the ledger was broken: a bug, never bad user input."""


def invariant(condition: bool, message: str) -> None:
    if not condition:
        raise InvariantViolation(message)
