"""Monitoring: data and score drift, matured-label performance, the retrain policy and the
monitoring records (the API exports the latest as Prometheus gauges: serving.metrics)."""
