"""Tests of the pure ingestion domain: org numbers, catalogue files, events, attribution, Avro."""
