# Coins for Change: one image for the web replicas, the worker and the jobs (compose.yaml and
# deploy/kubernetes run these very commands; tests/deploy checks that they agree with the CLI):
#   web:     coins serve --host 0.0.0.0 --port 8000 --no-worker --no-migrate
#   worker:  coins worker
#   migrate: coins db upgrade
#   backup:  coins backup --dir /backups --keep 14

# Front-end libraries from the npm registry (package-lock.json), copied into static/vendor.
FROM node:20-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/vendor.mjs scripts/vendor.mjs
# Runtime libraries only (axe-core is a test tool); the postinstall script copies them into static/vendor.
RUN npm ci --omit=dev --no-audit --no-fund

# Wheels for the project and its dependencies.
FROM python:3.11-slim AS build
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    CONFIG_DIR=/app/config \
    DATA_DIR=/tmp/coins \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics
RUN useradd --uid 1000 --create-home --shell /usr/sbin/nologin coins
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config ./config
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY --from=assets /app/static/vendor ./static/vendor
USER 1000
# 8000: the web app (and its /metrics); 9091: the worker's /metrics.
EXPOSE 8000 9091
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"
CMD ["coins", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker", "--no-migrate"]
