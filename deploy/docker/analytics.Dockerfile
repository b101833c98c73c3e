# syntax=docker/dockerfile:1
# analytics — 数据分析 (read models and operations metrics over ticket events). Build from the repository root:
#   docker build -f deploy/docker/analytics.Dockerfile -t ops-support/analytics:dev .

# --- build: a virtualenv with the project's runtime dependencies and this service's packages -------------------
FROM python:3.11-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv

WORKDIR /src
# Only what this service runs: the shared kit, the event contracts and its own package. The other services'
# packages never enter the image, so nothing here can import them.
COPY pyproject.toml ./
COPY contracts/ contracts/
COPY services/__init__.py services/
COPY services/kit/ services/kit/
COPY services/analytics/ services/analytics/
# A regular (not editable) install without extras: the code lands in the venv's site-packages, compiled, and
# /src stays behind in this stage.
RUN /opt/venv/bin/pip install --no-cache-dir .

# --- runtime ----------------------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ops-support-analytics" \
      org.opencontainers.image.description="信息化产品运营支撑系统: analytics — 数据分析 (read models and operations metrics over ticket events)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"

# A numeric, non-root user, so that Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app

# Owned by root and read-only to the service user.
COPY --from=build /opt/venv /opt/venv

# OPS_HOST: the code's default 127.0.0.1 is unreachable from outside the container. Every service listens on
# 8000 in its container (the compose file and the Kubernetes Services map it).
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPS_HOST=0.0.0.0 \
    OPS_PORT=8000 \
    OPS_LOG_FORMAT=json

USER 10001:10001
EXPOSE 8000

# The slim image has no curl; Python's urllib fails (exit 1) on a refused connection or a non-2xx answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Exec form: python is PID 1 and receives SIGTERM itself (uvicorn's graceful shutdown, then consumers stop and
# the outbox drains). An ENTRYPOINT, not a CMD, so that arguments are appended rather than replace the command:
# `docker run IMAGE --role worker` or, in Kubernetes, `args: ["--role", "worker"]` runs only the consumers
# (`--role api` only the HTTP API; without arguments OPS_ROLE decides, default all).
ENTRYPOINT ["python", "-m", "services.analytics"]
