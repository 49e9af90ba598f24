"""Probes: `/health` says the process is alive; `/ready` says it can serve (503 lists what is failing)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from litestar import Controller, MediaType, Request, Response, get
from litestar.di import NamedDependency
from sqlalchemy import text

from coins.lib.metrics import READY_CHECK, render_metrics
from coins.settings import Settings

CHECK_TIMEOUT = 2.0


async def _check_database(request: Request[Any, Any, Any]) -> None:
    async with request.app.state.db_engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _check_valkey(request: Request[Any, Any, Any]) -> None:
    await request.app.state.valkey.ping()


async def _check_opensearch(settings: NamedDependency[Settings]) -> None:
    auth = (settings.opensearch.username, settings.opensearch.password) if settings.opensearch.username else None
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT, auth=auth, verify=True) as client:
        response = await client.get(settings.opensearch.url.rstrip("/") + "/_cluster/health")
        response.raise_for_status()
        if response.json().get("status") == "red":
            raise RuntimeError("cluster status is red")


async def run_checks(request: Request[Any, Any, Any], settings: NamedDependency[Settings]) -> dict[str, str]:
    checks: dict[str, Any] = {"database": _check_database(request), "valkey": _check_valkey(request)}
    if settings.opensearch.url:
        checks["opensearch"] = _check_opensearch(settings)
    names = list(checks)
    results = await asyncio.gather(
        *(asyncio.wait_for(check, CHECK_TIMEOUT) for check in checks.values()), return_exceptions=True
    )
    return {
        name: "ok" if not isinstance(result, BaseException) else f"failing: {type(result).__name__}: {result}"[:300]
        for name, result in zip(names, results, strict=True)
    }


class HealthController(Controller):
    tags = ["operations"]

    @get("/health", summary="Liveness: the process answers")
    async def health(self, settings: NamedDependency[Settings]) -> dict[str, str]:
        return {"status": "ok", "version": settings.app.version}

    @get("/ready", summary="Readiness: PostgreSQL, Valkey (and OpenSearch when configured) answer")
    async def ready(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> Response[dict[str, Any]]:
        checks = await run_checks(request, settings)
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
