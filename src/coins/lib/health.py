"""Probes: `/health` says the process is alive; `/ready` says it can serve (503 lists what is failing)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from litestar import Controller, MediaType, Request, Response, get

from coins.lib.metrics import READY_CHECK, render_metrics

logger = logging.getLogger("coins.health")

CHECK_TIMEOUT = 2.0
# A readiness check: raises when its dependency cannot serve.  The app's wiring lists them in
# `app.state.ready_checks` (PostgreSQL and Valkey always, the search backend when configured).
ReadyCheck = Callable[[], Awaitable[None]]


async def run_checks(checks: Mapping[str, ReadyCheck]) -> dict[str, str]:
    names = list(checks)
    results = await asyncio.gather(
        *(asyncio.wait_for(check(), CHECK_TIMEOUT) for check in checks.values()), return_exceptions=True
    )
    answers: dict[str, str] = {}
    for name, result in zip(names, results, strict=True):
        if not isinstance(result, BaseException):
            answers[name] = "ok"
            continue
        # The reason goes to the log only: an exception's text can name hosts, ports, users and versions,
        # and /ready answers anyone who can reach the replica.
        logger.warning("readiness check %s failing: %s: %s", name, type(result).__name__, str(result)[:300])
        answers[name] = "timed out" if isinstance(result, TimeoutError) else "failing"
    return answers


class HealthController(Controller):
    tags = ["operations"]

    @get("/health", summary="Liveness: the process answers")
    async def health(self, request: Request[Any, Any, Any]) -> dict[str, str]:
        return {"status": "ok", "version": request.app.state.version}

    @get("/ready", summary="Readiness: PostgreSQL, Valkey (and OpenSearch when configured) answer")
    async def ready(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        checks = await run_checks(request.app.state.ready_checks)
        failing = sorted(name for name, result in checks.items() if result != "ok")
        for name, result in checks.items():
            READY_CHECK.labels(name).set(1 if result == "ok" else 0)
        body: dict[str, Any] = {"status": "ready" if not failing else "unavailable", "checks": checks}
        if failing:
            body["failing"] = failing
        return Response(body, status_code=200 if not failing else 503, media_type=MediaType.JSON)

    @get("/metrics", summary="Prometheus metrics", media_type=MediaType.TEXT)
    async def metrics(self) -> Response[bytes]:
        payload, content_type = render_metrics()
        return Response(payload, media_type=content_type)
