"""infra: the processes the ledger runs on, and each workspace's share of them.

- `infra.services`: `ensure_services(home) -> Endpoints`, `services_status`, `stop_services`,
  `ledger_home`, `InfraError` (Kafka KRaft + PostgreSQL, started on demand and reused).
- `infra.workspace`: a workspace's database `ledger_<ws>` and topics `ledger.<ws>.*`.
- `infra.kafka`, `infra.postgres`: how each service is installed, started and stopped.
"""
