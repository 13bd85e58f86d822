"""The ledger's PostgreSQL store: tables, migrations, immutability, append, verify.

Import from the modules themselves (`ledger.store.append`, `ledger.store.verify`, …);
this package imports nothing, so a verify worker process starts without SQLAlchemy.
"""
