"""The worker's Prometheus metrics: liveness, readiness, state and per-partition positions.

A registry of its own (not the global one) so a process, or a test, can hold several.
Fed by `WorkerMonitor` snapshots, so the figures are those of the state file.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from streams.supervision import STATE_RUNNING, STATES, WorkerSnapshot

partitions_max = 1_024  # label values kept: a raw topic never has more partitions


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.up = Gauge(
            "ledger_worker_up", "1 while the worker process runs", registry=self.registry
        )
        self.ready = Gauge(
            "ledger_worker_ready",
            "1 while the worker is running, 0 while it waits for the broker or the database",
            registry=self.registry,
        )
        self.state = Gauge(
            "ledger_worker_state",
            "1 for the worker's current state",
            ["state"],
            registry=self.registry,
        )
        self.next_offset = Gauge(
            "ledger_worker_next_offset",
            "the next raw-topic offset the ledger expects, per partition",
            ["partition"],
            registry=self.registry,
        )
        self.last_batch = Gauge(
            "ledger_worker_last_batch_timestamp_seconds",
            "when this worker last wrote a batch of the partition (Unix time)",
            ["partition"],
            registry=self.registry,
        )
        self.entries = Counter(
            "ledger_worker_entries",
            "entries this worker wrote, by status",
            ["status"],
            registry=self.registry,
        )
        self._entries_seen: dict[str, int] = {}
        self.up.set(1)

    def update(self, snapshot: WorkerSnapshot) -> None:
        self.ready.set(1 if snapshot.state == STATE_RUNNING else 0)
        for state in STATES:
            self.state.labels(state=state).set(1 if snapshot.state == state else 0)
        for partition, position in sorted(snapshot.partitions.items())[:partitions_max]:
            label = str(partition)
            self.next_offset.labels(partition=label).set(position.next_offset)
            if position.last_batch_at is not None:
                self.last_batch.labels(partition=label).set(position.last_batch_at.timestamp())
        for status, total in snapshot.entries_by_status.items():
            # The snapshot holds totals; a counter only grows by the difference.
            increase = total - self._entries_seen.get(status, 0)
            if increase > 0:
                self.entries.labels(status=status).inc(increase)
            self._entries_seen[status] = total

    def serve(self, port: int) -> None:
        """Expose /metrics on `port` (all interfaces, as Prometheus scrapes from elsewhere)."""
        start_http_server(port, registry=self.registry)
