# syntax=docker/dockerfile:1
# fraudops API: FastAPI + uvicorn serving the registered champion model on port 8000.
#
#   docker build -f deployment/docker/api.Dockerfile -t fraudops-api .     (from the repo root)
#
# Every Python package is pinned by constraints.txt; the final image holds the virtual
# environment and the OpenMP runtime only (no compiler, no pip cache, no apt lists).

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

# Dependencies first, from pyproject.toml, so this layer survives source-only changes.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('requirements.txt', 'w').write('\n'.join(deps))" \
 && /opt/venv/bin/pip install --no-cache-dir --constraint constraints.txt --requirement requirements.txt

# Then the project itself (no dependency resolution: they are all installed above).
COPY README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /build/wheels . \
 && /opt/venv/bin/pip install --no-cache-dir --no-deps /build/wheels/fraudops-*.whl \
 && /opt/venv/bin/pip check

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="fraudops-api" \
      org.opencontainers.image.description="Real-time payment-card fraud scoring API" \
      org.opencontainers.image.source="https://github.com/fraudops/fraudops" \
      org.opencontainers.image.licenses="Apache-2.0"

# libgomp1: the OpenMP runtime LightGBM and XGBoost models need at prediction time.
# Pinned to bookworm's version: bump it with the base image (apt-cache policy libgomp1).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1=12.2.0-14+deb12u1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 fraudops \
 && useradd --system --uid 10001 --gid fraudops --create-home --home-dir /home/fraudops \
      --shell /usr/sbin/nologin fraudops \
 && install -d -o fraudops -g fraudops /var/lib/fraudops

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    FRAUDOPS_HOME=/var/lib/fraudops

WORKDIR /var/lib/fraudops
USER 10001:10001
EXPOSE 8000

# Liveness only: /health/ready stays 503 until a model is registered, which is not a crash.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"]

ENTRYPOINT ["fraudops"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
