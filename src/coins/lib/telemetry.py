"""OpenTelemetry traces for requests and background jobs, exported over OTLP/HTTP; job metrics.

Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT (`settings.telemetry.otlp_endpoint`) is set. That is the
collector's base address (`http://otel-collector:4318`): spans go to `<endpoint>/v1/traces`, as the
OpenTelemetry specification says for the HTTP exporter (an endpoint already ending in `/v1/traces` is used
as it is). The SDK's own environment variables (OTEL_BSP_SCHEDULE_DELAY, OTEL_EXPORTER_OTLP_HEADERS, ...)
still apply.

- Requests: Litestar's OpenTelemetryPlugin (ASGI middleware), one server span per request named after the
  route template; the probes and /metrics are left out.
- Jobs: the SAQ worker calls `job_started` / `job_finished` from its before/after-process hooks, which
  open and close one CONSUMER span per job (`job <function>`), and count every job's outcome and
  duration in Prometheus (`coins_jobs_total`, `coins_job_duration_seconds`) whether tracing is on or not.

The provider is per process (granian's workers and the worker each build their own).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coins.lib.metrics import JOB_DURATION, JOBS

if TYPE_CHECKING:
    from litestar.plugins import PluginProtocol
    from litestar.types import ASGIApp, Message, Receive, Scope, Send
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span


logger = logging.getLogger("coins.telemetry")

TRACES_PATH = "/v1/traces"
# Probes run every few seconds on every replica: traces of them would drown the real ones.
EXCLUDED_PATHS = ["^/health", "^/ready", "^/metrics", "^/static/"]

_provider: TracerProvider | None = None
_running: dict[str, tuple[Span | None, float]] = {}


def traces_url(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


@dataclass(frozen=True)
class TracingOptions:
    """Where traces go (no endpoint: tracing off) and how this service names itself in them."""

    otlp_endpoint: str
    service_name: str
    version: str
    environment: str


def configure_tracing(options: TracingOptions) -> TracerProvider | None:
    """The process's tracer provider (made on first call), or None when no OTLP endpoint is configured."""
    global _provider  # noqa: PLW0603 - one provider per process, by design
    if not options.otlp_endpoint:
        return None
    if _provider is not None:
        return _provider
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {
            "service.name": options.service_name,
            "service.version": options.version,
            "deployment.environment.name": options.environment,
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(options.otlp_endpoint))))
    if _provider is None and not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(provider)  # for libraries that look for the global one
    _provider = provider
    logger.info("OpenTelemetry traces go to %s", traces_url(options.otlp_endpoint))
    return provider


def litestar_plugins(options: TracingOptions) -> list[PluginProtocol]:
    """Litestar's OpenTelemetry plugin when tracing is on, else nothing."""
    provider = configure_tracing(options)
    if provider is None:
        return []
    from litestar.middleware import DefineMiddleware
    from litestar.plugins.opentelemetry import OpenTelemetryConfig
    from litestar.plugins.opentelemetry import OpenTelemetryPlugin as LitestarOpenTelemetryPlugin
    from litestar.plugins.opentelemetry.middleware import OpenTelemetryInstrumentationMiddleware

    class RouteNamingMiddleware(OpenTelemetryInstrumentationMiddleware):
        """Litestar's middleware runs before routing and would name spans by raw path (`GET /api/
        campaigns/my-slug`): one name per URL. Name them by route template once routing is done."""

        def __init__(self, app: ASGIApp, config: OpenTelemetryConfig) -> None:
            super().__init__(app=_name_span_by_route(app), config=config)

    class OpenTelemetryPlugin(LitestarOpenTelemetryPlugin):
        # Litestar 2.25's plugin builds its middleware from a fixed class, not config.middleware_class;
        # the app finds the plugin by this class name, so the name stays.
        @property
        def middleware(self) -> DefineMiddleware:
            return DefineMiddleware(RouteNamingMiddleware, config=self.config)

    return [
        OpenTelemetryPlugin(
            OpenTelemetryConfig(
                tracer_provider=provider,
                exclude=EXCLUDED_PATHS,
                scope_span_details_extractor=_span_details_before_routing,
                middleware_class=RouteNamingMiddleware,
            )
        )
    ]


def _span_details_before_routing(scope: Scope) -> tuple[str, dict[str, Any]]:
    return str(scope.get("method", "") or scope.get("type", "")), {}


def _name_span_by_route(app: ASGIApp) -> ASGIApp:
    """Rename the server span when the response starts: routing is done by then, and the span is still
    open (the instrumentation ends it with the last body chunk)."""

    async def named(scope: Scope, receive: Receive, send: Send) -> None:
        async def naming_send(message: Message) -> None:
            template = scope.get("path_template")
            if message["type"] == "http.response.start" and template:
                from opentelemetry import trace

                span = trace.get_current_span()  # the server span: the middleware made it current
                if span.is_recording():
                    span.update_name(f"{scope.get('method', scope['type'])} {template}")
                    span.set_attribute("http.route", template)
            await send(message)

        await app(scope, receive, naming_send)

    return named


async def shutdown_tracing() -> None:
    """Export what is buffered and stop (at the end of the app's or the worker's life)."""
    global _provider
    provider, _provider = _provider, None
    if provider is not None:
        await asyncio.to_thread(provider.shutdown)


# SAQ jobs ------------------------------------------------------------------------------------------------


def job_started(ctx: Mapping[str, Any]) -> None:
    """Before-process hook: open the job's span (when tracing) and start its clock."""
    job = ctx.get("job")
    if job is None:
        return
    span: Span | None = None
    if _provider is not None:
        from opentelemetry.trace import SpanKind

        span = _provider.get_tracer("coins.worker").start_span(
            f"job {job.function}",
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "saq",
                "messaging.operation.type": "process",
                "messaging.destination.name": job.queue.name if job.queue is not None else "",
                "messaging.message.id": str(job.id),
                "saq.job.function": job.function,
                "saq.job.attempt": int(job.attempts),
            },
        )
    _running[str(job.id)] = (span, time.perf_counter())


def job_finished(ctx: Mapping[str, Any]) -> None:
    """After-process hook: count the outcome, close the span with its status."""
    job = ctx.get("job")
    if job is None:
        return
    span, started = _running.pop(str(job.id), (None, time.perf_counter()))
    error = ctx.get("exception")
    status = getattr(job.status, "value", str(job.status))
    # A failed attempt that will be tried again goes back to the queue.
    outcome = {"queued": "retried", "active": "failed" if error else "complete"}.get(status, status)
    JOBS.labels(job.function, outcome).inc()
    JOB_DURATION.labels(job.function).observe(time.perf_counter() - started)
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("saq.job.outcome", outcome)
    if isinstance(error, BaseException):
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    elif outcome in {"complete"}:
        span.set_status(Status(StatusCode.OK))
    span.end()
