# syntax=docker/dockerfile:1
# console — the staff console (React + Ant Design + ECharts), built by Vite and served by nginx. Build from the
# repository root (the build context's allow-list is console.Dockerfile.dockerignore beside this file):
#   docker build -f deploy/docker/console.Dockerfile -t ops-support/console:dev .

# --- build: npm ci from the lock file, then vite build --------------------------------------------------------
FROM node:20-bookworm-slim AS build

WORKDIR /src
# The lock file first, so that the dependencies' layer is reused while only the sources change.
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY console/ ./
RUN npx vite build

# --- runtime: nginx, as a non-root user, on port 8000 like the services -----------------------------------------
FROM nginxinc/nginx-unprivileged:1.27-alpine

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ops-support-console" \
      org.opencontainers.image.description="信息化产品运营支撑系统: the staff console (static files; the APIs are under /api/<service>/)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/nginxinc/nginx-unprivileged:1.27-alpine"

# The server (SPA fallback, /healthz, /console-config.json) and the start-up script that writes the console's
# config and, where OPS_<SERVICE>_URL is set (compose), the /api/<service>/ proxies: both into /tmp/console, the
# one writable place (Kubernetes mounts an emptyDir on /tmp; the root file system stays read-only).
COPY deploy/docker/console/default.conf /etc/nginx/conf.d/default.conf
COPY --chmod=0755 deploy/docker/console/40-console-config.sh /docker-entrypoint.d/40-console-config.sh
COPY --from=build /src/dist /usr/share/nginx/html

ENV NGINX_ENTRYPOINT_QUIET_LOGS=1

# The base image's numeric nginx user.
USER 101:101
EXPOSE 8000

# busybox wget is in the alpine image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/healthz"]
