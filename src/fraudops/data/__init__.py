"""Data layer: simulation, validation with quarantine, ingestion and partitioned storage."""
