"""Avro schemas of the raw log and the rejected topic (`*.avsc`) and their codec."""
