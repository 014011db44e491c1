"""Pipeline steps with their I/O: what the CLI, the embedded loop and the Airflow DAGs call."""
