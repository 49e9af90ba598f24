"""OpenTelemetry end to end: with OTEL_EXPORTER_OTLP_ENDPOINT set, a web replica (granian, the production
app factory) and `coins worker` send their spans over OTLP/HTTP to a real receiver (a small HTTP server
here that decodes the protobuf payloads): one server span per request, named by route template, none
for the probes; one CONSUMER span per job. Without the variable nothing is exported."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from coins.lib.embedded import free_port
from coins.lib.jobs import enqueue
from coins.lib.telemetry import traces_url
from coins.settings import Settings
from coins.wiring import job_queue
from tests.support.servers import PROJECT_ROOT, AppProcess, wait_for_http

pytestmark = pytest.mark.system


@dataclass
class Span:
    service: str
    name: str
    kind: int
    attributes: dict[str, Any]


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver: POST /v1/traces with an ExportTraceServiceRequest."""

    port: int = field(default_factory=free_port)
    spans: list[Span] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.paths.append(self.path)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            attributes = {a.key: _value(a.value) for a in span.attributes}
                            receiver.spans.append(
                                Span(resource.get("service.name", ""), span.name, span.kind, attributes)
                            )
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for(self, predicate: Callable[[Span], bool], timeout: float = 20.0) -> Span:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for span in list(self.spans):
                if predicate(span):
                    return span
            time.sleep(0.1)
        raise AssertionError(f"no such span within {timeout} s; got {[(s.name, s.attributes) for s in self.spans]}")

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def test_traces_url_follows_the_specification() -> None:
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert traces_url("http://collector:4318/v1/traces") == "http://collector:4318/v1/traces"


@pytest.fixture
def telemetry_env(receiver: Receiver, app_env: Callable[..., dict[str, str]]) -> dict[str, str]:
    return app_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_SERVICE_NAME="coins-under-test",
        OTEL_BSP_SCHEDULE_DELAY="100",  # the SDK's own variable: export every 0.1 s, not every 5 s
    )


@pytest.fixture
def web(telemetry_env: dict[str, str]) -> Iterator[AppProcess]:
    started = AppProcess(env=telemetry_env).start()
    yield started
    started.stop()


@pytest.fixture
def worker(telemetry_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`coins worker` as production runs it, its /metrics on a free port."""
    metrics_port = free_port()
    with (PROJECT_ROOT / ".coins" / "telemetry-worker.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "coins",
                "worker",
                "--metrics-host",
                "127.0.0.1",
                "--metrics-port",
                str(metrics_port),
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, **telemetry_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30, process=process)
        yield process, metrics_port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.usefixtures("clean")
async def test_spans_for_requests_and_jobs_reach_an_otlp_receiver(
    receiver: Receiver, web: AppProcess, worker: tuple[subprocess.Popen[bytes], int], settings: Settings
) -> None:
    _, metrics_port = worker
    async with httpx.AsyncClient(base_url=web.url, timeout=10) as client:
        assert (await client.get("/health")).status_code == 200
        listed = await client.get("/api/campaigns", headers={"Accept": "application/json"})
        assert listed.status_code == 200, listed.text
        missing = await client.get("/api/campaigns/no-such-campaign", headers={"Accept": "application/json"})
        assert missing.status_code == 404

    request_span = receiver.wait_for(lambda s: s.attributes.get("http.route") == "/api/campaigns")
    assert request_span.service == "coins-under-test"
    assert request_span.kind == 2  # SERVER
    assert request_span.name == "GET /api/campaigns"
    assert (
        request_span.attributes.get("http.response.status_code", request_span.attributes.get("http.status_code")) == 200
    )
    not_found = receiver.wait_for(lambda s: str(s.attributes.get("http.route", "")).startswith("/api/campaigns/{slug"))
    assert not_found.attributes.get("http.response.status_code", not_found.attributes.get("http.status_code")) == 404

    queue = job_queue(settings)
    await queue.connect()
    try:
        await enqueue(queue, "sweep_emails")
    finally:
        await queue.disconnect()
    job_span = receiver.wait_for(lambda s: s.name == "job sweep_emails")
    assert job_span.service == "coins-under-test"
    assert job_span.kind == 5  # CONSUMER
    assert job_span.attributes["messaging.system"] == "saq"
    assert job_span.attributes["saq.job.function"] == "sweep_emails"
    assert job_span.attributes["saq.job.outcome"] == "complete"

    # The same job, counted in the worker's /metrics.
    async with httpx.AsyncClient(timeout=5) as client:
        metrics = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    assert 'coins_jobs_total{function="sweep_emails",outcome="complete"}' in metrics
    assert 'coins_queue_jobs{state="queued"}' in metrics

    # The probes are not traced (they would drown the rest), and everything went to /v1/traces.
    assert not [s for s in receiver.spans if str(s.attributes.get("http.route", "")).startswith(("/health", "/ready"))]
    assert set(receiver.paths) == {"/v1/traces"}
