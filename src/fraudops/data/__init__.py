"""Data layer: simulation, validation with quarantine, ingestion, partitioned storage and
the append-only logs the API writes."""
