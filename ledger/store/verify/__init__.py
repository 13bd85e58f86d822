"""`ledger verify`: recompute every hash chain, closing and settlement digest of a ledger.

Three modules: `rules` (pure: what counts as damage, and the sentences that name it),
`sql` (the sessions, the queries, the SQL encoding of entries) and `run` (sequencing:
the snapshot, segments, connections). `verify_ledger` is the entry point.

Entries. PostgreSQL encodes each row with `ledger.entry_bytes` (SQL, created by the
migration) and hashes it, so the check does not trust the write path: `ledger/domain/chain.py`
encoded and hashed the row when it was written in Python, an independent implementation
encodes it again now. For each chain, in seq order:

- seq runs 1, 2, 3 … without a gap;
- prev_hash equals the hash stored in the entry before (GENESIS_HASH for seq 1);
- hash equals SHA-256(prev_hash ‖ entry_bytes(row)).

A row changed by anyone, even a superuser who disabled the triggers, no longer hashes
to its stored hash; a deleted row leaves a gap; a row replaced with a recomputed hash
breaks the link from the next entry. Closings pin every chain's head at a close, so a
rewritten tail is found too, and each settlement is checked against its digest and
its lines (with verify's own canonical JSON: see `rules`).

Speed: each chain is cut into segments of `run.verify_segment_entries` seqs. A segment
is first checked in one aggregate query (the fast path): PostgreSQL encodes and hashes
every row and returns one row, the count, whether every hash matched, and the stored
prev_hashes and hashes concatenated, which Python compares as two byte strings for the
links. Only a segment that this does not prove intact is read again row by row and
hashed with hashlib (the exact path), which finds and names the damage. Segments run on
two connections per core, all reading the same MVCC snapshot (exported by the
coordinating transaction), so the report describes one point in time even while writers
append. Measured with benchmarks/verify_bench.py: about 3.5 CPU µs per entry, nearly all
in PostgreSQL (mostly the ~170 expression steps of entry_bytes per row, then SHA-256).
"""

from __future__ import annotations

from ledger.store.verify.rules import Finding, Segment, VerifyReport
from ledger.store.verify.run import verify_ledger

__all__ = ["Finding", "Segment", "VerifyReport", "verify_ledger"]
