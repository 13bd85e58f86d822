"""Use cases behind the CLI: each composes the domain with the Kafka and PostgreSQL adapters."""
