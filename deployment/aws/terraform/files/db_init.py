"""Create the MLflow, Airflow and case-store login roles and databases on the RDS instance.

Run once per environment as the one-off ECS task <project>-<environment>-db-init (see
DEPLOYMENT_GUIDE.md); running it again is harmless and resets the passwords to the
values in Secrets Manager. Connection settings come from the standard libpq variables
(PGHOST, PGPORT, PGUSER, PGPASSWORD) and the passwords from MLFLOW_DB_PASSWORD,
AIRFLOW_DB_PASSWORD and CASES_DB_PASSWORD, all injected by ECS. The API creates and
migrates the cases schema itself (Alembic) when it first opens the store.
"""

import os

import psycopg2
from psycopg2 import sql

APPLICATIONS = ("mlflow", "airflow", "cases")


def main() -> None:
    connection = psycopg2.connect(dbname="postgres", sslmode="require", connect_timeout=10)
    connection.autocommit = True
    with connection.cursor() as cursor:
        for role in APPLICATIONS:
            password = os.environ[f"{role.upper()}_DB_PASSWORD"]
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            verb = "ALTER" if cursor.fetchone() else "CREATE"
            cursor.execute(
                sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD %s").format(sql.Identifier(role)),
                (password,),
            )
            # RDS masters are not superusers: they need the role to create a database it owns.
            cursor.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (role,))
            if cursor.fetchone() is None:
                cursor.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(role), sql.Identifier(role)
                    )
                )
            action = "created" if verb == "CREATE" else "password updated"
            print(f"database {role}: ready (role {action})", flush=True)
    connection.close()


if __name__ == "__main__":
    main()
