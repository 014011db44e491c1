"""Monitoring: data and score drift, matured-label performance, Prometheus metrics."""
