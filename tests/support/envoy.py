"""Envoy for the tests: the same code `coins cluster` runs (coins.ops.envoy), from deploy/envoy/envoy.yaml.

Only what cannot work on a test machine is rewritten: the listener, admin and upstream addresses (local
ports instead of `web-1:8000`, `web-2:8000`), with the cluster switched to STATIC because the endpoints
are IP addresses. Routes, retries, timeouts, health checks, X-Forwarded-For handling, request ids and the
access log are exactly what compose and production run.
"""

from __future__ import annotations

from coins.ops.envoy import (
    CLUSTER,
    ENVOY_CONFIG,
    EnvoyProcess,
    envoy_executable,
    load_config,
    rewrite_for_local,
    validate,
    write_config,
)

__all__ = [
    "CLUSTER",
    "ENVOY_CONFIG",
    "EnvoyProcess",
    "envoy_executable",
    "load_config",
    "rewrite_for_local",
    "validate",
    "write_config",
]
