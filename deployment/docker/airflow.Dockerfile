# syntax=docker/dockerfile:1
# Airflow 3 with fraudops installed: the DAGs in dags/ call fraudops.pipelines in-process.
# One image serves every Airflow role; the command picks it (api-server, scheduler,
# dag-processor, triggerer, db migrate). The default is the API server on port 8080.
#
#   docker build -f deployment/docker/airflow.Dockerfile -t fraudops-airflow .  (from the repo root)
#
# Built on python:slim rather than apache/airflow so that Airflow, fraudops and every
# transitive dependency come from the one constraints.txt the tests run against.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

# The build backend lives in the system interpreter of this stage only, never in /opt/venv.
RUN pip install --no-cache-dir hatchling==1.33.0 \
 && python -m venv /opt/venv

WORKDIR /build

# Dependencies first (fraudops' own + the [airflow], [compiled] and [spark] extras + the
# PostgreSQL driver for the metadata database), so this layer survives source-only changes.
# [spark]: tasks with FRAUDOPS_ENGINE=spark drive the stack's Spark cluster, and the
# spark-worker service runs this image (same Python, fraudops and Spark as the driver).
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; deps = p['dependencies'] + p['optional-dependencies']['airflow'] + p['optional-dependencies']['compiled'] + p['optional-dependencies']['spark']; open('requirements.txt', 'w').write('\n'.join(deps))" \
 && /opt/venv/bin/pip install --no-cache-dir --constraint constraints.txt \
      --requirement requirements.txt psycopg2-binary==2.9.13

COPY README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /build/wheels . \
 && /opt/venv/bin/pip install --no-cache-dir --no-deps /build/wheels/fraudops-*.whl \
 && /opt/venv/bin/pip check

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="fraudops-airflow" \
      org.opencontainers.image.description="Airflow 3 with the fraudops pipelines and DAGs" \
      org.opencontainers.image.source="https://github.com/fraudops/fraudops" \
      org.opencontainers.image.licenses="Apache-2.0"

# libgomp1: the OpenMP runtime LightGBM and XGBoost need when the DAGs train models.
# openjdk-17-jre-headless: the JVM of Spark 4 (the driver in tasks, the spark-worker role).
# Pinned to bookworm's versions: bump them with the base image (apt-cache policy NAME).
# The man folder: the JRE's post-install links a man page there, which slim images lack.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends libgomp1=12.2.0-14+deb12u1 \
      openjdk-17-jre-headless=17.0.19+10-1~deb12u2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 airflow \
 && useradd --system --uid 10001 --gid airflow --create-home --home-dir /home/airflow \
      --shell /usr/sbin/nologin airflow \
 && install -d -o airflow -g airflow /opt/airflow /opt/airflow/logs /opt/airflow/auth \
      /var/lib/fraudops

COPY --from=builder /opt/venv /opt/venv
COPY --chown=root:root dags /opt/airflow/dags

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    FRAUDOPS_HOME=/var/lib/fraudops \
    PYSPARK_PYTHON=/opt/venv/bin/python

WORKDIR /opt/airflow
USER 10001:10001
EXPOSE 8080

# Checks the API server (the default command); compose overrides it for the other roles.
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v2/monitor/health', timeout=8)"]

ENTRYPOINT ["airflow"]
CMD ["api-server"]
