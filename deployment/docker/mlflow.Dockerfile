# syntax=docker/dockerfile:1
# MLflow tracking server + model registry, PostgreSQL backend, proxied S3 (MinIO) artifacts.
#
#   docker build -f deployment/docker/mlflow.Dockerfile -t fraudops-mlflow .   (from the repo root)
#
# Configuration comes from the environment (see deployment/docker-compose.yml):
#   MLFLOW_BACKEND_STORE_URI       postgresql+psycopg2://user:password@postgres:5432/mlflow
#   MLFLOW_ARTIFACTS_DESTINATION   s3://mlflow/
#   MLFLOW_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   (MinIO)
#   MLFLOW_SERVER_ALLOWED_HOSTS    Host headers accepted (DNS-rebinding protection)
# The versions below are the ones constraints.txt pins (tests/deployment checks they agree).

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv

WORKDIR /build
COPY constraints.txt ./
RUN /opt/venv/bin/pip install --no-cache-dir --constraint constraints.txt \
      mlflow==3.17.2 \
      psycopg2-binary==2.9.13 \
      boto3==1.43.117 \
 && /opt/venv/bin/pip check

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="fraudops-mlflow" \
      org.opencontainers.image.description="MLflow tracking server and model registry for fraudops" \
      org.opencontainers.image.source="https://github.com/fraudops/fraudops" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 mlflow \
 && useradd --system --uid 10001 --gid mlflow --create-home --home-dir /home/mlflow \
      --shell /usr/sbin/nologin mlflow

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MLFLOW_ARTIFACTS_DESTINATION=s3://mlflow/

WORKDIR /home/mlflow
USER 10001:10001
EXPOSE 5000

# /health is exempt from MLflow's Host-header check, so 127.0.0.1 works whatever the allow-list.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]

ENTRYPOINT ["mlflow", "server"]
CMD ["--host", "0.0.0.0", "--port", "5000", "--workers", "2", "--serve-artifacts"]
