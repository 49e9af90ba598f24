"""Prometheus metrics, correct across worker processes.

`coins serve` points PROMETHEUS_MULTIPROC_DIR at a fresh folder before its workers start, so every
worker writes its samples there and `/metrics` adds them up.  Paths are labelled by route template
(`/api/ideas/{id}`), never by raw URL, so a scan of random URLs cannot explode the series count.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


COIN_ALLOCATIONS = Counter(
    "coin_allocations_total", "Coin operations by members that moved coins, by operation.", ["operation"]
)
COIN_ALLOCATION_FAILURES = Counter(
    "coin_allocation_failures_total", "Coin operations refused, by operation and reason (error code).",
    ["operation", "reason"],
)  # fmt: skip


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# Background jobs (counted by the worker's hooks in lib/telemetry.py) and readiness (set by /ready, which
# Kubernetes probes every few seconds): what the ReplicaNotReady and QueueBacklog alerts watch, with the
# queue gauge `coins_queue_jobs{state}` the worker exports (coins/ops/worker_metrics.py).
JOBS = Counter("coins_jobs_total", "Background jobs processed, by function and outcome.", ["function", "outcome"])
JOB_DURATION = Histogram(
    "coins_job_duration_seconds",
    "Time a background job ran, by function.",
    ["function"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0),
)
READY_CHECK = Gauge(
    "coins_ready_check",
    "1 when the dependency answered this replica's last readiness check, 0 when it failed.",
    ["check"],
    multiprocess_mode="mostrecent",
)
