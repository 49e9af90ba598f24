"""Probes: `/health` says the process is alive; `/ready` says it can serve (503 lists what is failing)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from litestar import Controller, MediaType, Request, Response, get

from coins.lib.metrics import READY_CHECK, render_metrics

CHECK_TIMEOUT = 2.0
# A readiness check: raises when its dependency cannot serve.  The app's wiring lists them in
# `app.state.ready_checks` (PostgreSQL and Valkey always, the search backend when configured).
ReadyCheck = Callable[[], Awaitable[None]]


async def run_checks(checks: Mapping[str, ReadyCheck]) -> dict[str, str]:
    names = list(checks)
    results = await asyncio.gather(
        *(asyncio.wait_for(check(), CHECK_TIMEOUT) for check in checks.values()), return_exceptions=True
    )
    return {
        name: "ok" if not isinstance(result, BaseException) else f"failing: {type(result).__name__}: {result}"[:300]
        for name, result in zip(names, results, strict=True)
    }


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
