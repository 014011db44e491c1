# Start command of the Airflow API server task (bash -c). Migrating here is safe with
# several tasks: `airflow db migrate` takes a database lock and is idempotent. The
# simple auth manager reads the admin password from a file; it is written from the
# secret ECS injected, readable by the airflow user only.
set -euo pipefail
airflow db migrate
python - <<'PY'
import json
import os

path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
    json.dump({os.environ["AIRFLOW_ADMIN_USER"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, handle)
PY
exec airflow api-server --port 8080
