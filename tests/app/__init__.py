"""Tests of the use cases (ledger/app) that need neither the broker nor the database."""
