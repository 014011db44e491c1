#!/bin/sh
# Creates the MLflow, Airflow and case-store databases, each owned by its own login role, the first
# time the PostgreSQL container starts on an empty volume (docker-entrypoint-initdb.d).
# Credentials come from the environment set in deployment/docker-compose.yml.
set -e

: "${MLFLOW_DB_USER:?}" "${MLFLOW_DB_PASSWORD:?}" "${AIRFLOW_DB_USER:?}" "${AIRFLOW_DB_PASSWORD:?}"
: "${CASES_DB_USER:?}" "${CASES_DB_PASSWORD:?}"

create_database() {  # database owner password
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v db="$1" -v owner="$2" -v password="$3" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"owner";
SQL
}

create_database mlflow "$MLFLOW_DB_USER" "$MLFLOW_DB_PASSWORD"
create_database airflow "$AIRFLOW_DB_USER" "$AIRFLOW_DB_PASSWORD"
# the API migrates the review queue's schema itself (Alembic) when it opens the store
create_database cases "$CASES_DB_USER" "$CASES_DB_PASSWORD"
