"""deploy/envoy/envoy.yaml, the file compose mounts and the replica tests run, is a valid Envoy config.

`envoy --mode validate` builds every listener and cluster without serving. The STRICT_DNS endpoints
(`web-1`, `web-2`) need not resolve for that: resolution starts only when Envoy runs.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.envoy import ENVOY_CONFIG, EnvoyProcess, load_config, rewrite_for_local, validate, write_config

pytestmark = pytest.mark.system


def test_production_config_validates() -> None:
    result = validate(ENVOY_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_validation_catches_mistakes(tmp_path: Path) -> None:
    # The check above would be worthless if validate accepted anything: break one field on purpose.
    config = load_config()
    config["static_resources"]["clusters"][0]["lb_policy"] = "FASTEST_PLEASE"
    result = validate(write_config(config, tmp_path))
    assert result.returncode != 0
    assert "FASTEST_PLEASE" in result.stdout + result.stderr


def test_local_rewrite_validates(tmp_path: Path) -> None:
    local = rewrite_for_local(load_config(), listen_port=18080, admin_port=19901, upstream_ports=[18001, 18002])
    result = validate(write_config(local, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    cluster = local["static_resources"]["clusters"][0]
    assert cluster["type"] == "STATIC"
    endpoints = [
        e["endpoint"]["address"]["socket_address"] for e in cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    ]
    assert endpoints == [
        {"address": "127.0.0.1", "port_value": 18001},
        {"address": "127.0.0.1", "port_value": 18002},
    ]


def _routes(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    return {route["name"]: route for route in routes}


def test_production_settings_that_matter() -> None:
    """What the replica tests cannot see with two healthy local replicas, checked in the file itself."""
    config = load_config()
    listener = config["static_resources"]["listeners"][0]
    assert listener["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 8080}
    assert config["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 9901}

    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert manager["use_remote_address"] is True
    assert manager["xff_num_trusted_hops"] == 0
    assert manager["generate_request_id"] is True
    assert manager["preserve_external_request_id"] is True
    access_log = manager["access_log"][0]
    assert access_log["name"] == "envoy.access_loggers.stdout"
    fields = access_log["typed_config"]["log_format"]["json_format"]
    assert {"request_id", "method", "path", "status", "duration_ms", "upstream_host"} <= set(fields)

    [cluster] = config["static_resources"]["clusters"]
    assert cluster["name"] == "coins_web"
    assert cluster["type"] == "STRICT_DNS"
    assert cluster["lb_policy"] == "ROUND_ROBIN"
    hosts = [
        e["endpoint"]["address"]["socket_address"] for e in cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    ]
    assert hosts == [{"address": "web-1", "port_value": 8000}, {"address": "web-2", "port_value": 8000}]
    # The default (3 concurrent retries) turned a replica restart under load into 503s.
    assert all(t["max_retries"] >= 100 for t in cluster["circuit_breakers"]["thresholds"])
    [check] = cluster["health_checks"]
    assert check["http_health_check"]["path"] == "/health"
    assert (check["interval"], check["unhealthy_threshold"], check["healthy_threshold"]) == ("2s", 2, 1)

    routes = _routes(config)
    # Retried after a reset only when repeating is harmless (reads, keyed writes); other writes only when
    # they cannot have reached a replica.
    for name, route in routes.items():
        policy = route["route"]["retry_policy"]
        expected = "connect-failure,refused-stream" if name == "app" else "connect-failure,refused-stream,reset"
        assert policy["retry_on"] == expected, name
        assert policy["num_retries"] == 3
    assert routes["app_repeatable"]["match"]["headers"][0]["name"] == ":method"
    assert routes["app_with_idempotency_key"]["match"]["headers"] == [
        {"name": "idempotency-key", "present_match": True}
    ]
    for name in ("app_repeatable", "app_with_idempotency_key", "app"):
        assert routes[name]["route"]["timeout"] == "60s"
    # Event streams must not be cut by the 60 s timeout: by path and by Accept header, before the catch-all.
    assert list(routes) == ["events", "event_stream_accept", "app_repeatable", "app_with_idempotency_key", "app"]
    assert routes["events"]["match"] == {"prefix": "/events"}
    assert routes["event_stream_accept"]["match"]["headers"][0]["name"] == "accept"
    for name in ("events", "event_stream_accept"):
        assert routes[name]["route"]["timeout"] == "0s"
        assert routes[name]["route"]["idle_timeout"] == "3600s"


class DroppingUpstream:
    """A replica that dies mid-request, every time: it answers Envoy's health checks, but reads every other
    request and then drops the connection without answering (so it may or may not have acted on it)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        upstream = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                request_line = self.rfile.readline().decode("latin-1")
                headers = {}
                while (line := self.rfile.readline().decode("latin-1").strip()) != "":
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                self.rfile.read(int(headers.get("content-length", "0")))
                method, path, _ = request_line.split(" ", 2)
                if path == "/health":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                    return
                upstream.received.append(f"{method} {path} key={'idempotency-key' in headers}")
                # Close with a reset rather than a clean FIN: the request is gone, no answer will come.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_only_requests_safe_to_repeat_are_retried_after_a_replica_dies_mid_request() -> None:
    """A write without an Idempotency-Key may already have been applied: Envoy must not send it again."""
    upstreams = [DroppingUpstream(), DroppingUpstream()]
    envoy = EnvoyProcess([u.port for u in upstreams]).start()

    def attempts(method: str, headers: dict[str, str]) -> tuple[int, int]:
        for upstream in upstreams:
            upstream.received.clear()
        response = httpx.request(method, envoy.url + "/api/campaigns/x/coins/allocate", json={}, headers=headers,
                                 timeout=20)  # fmt: skip
        return response.status_code, sum(len(u.received) for u in upstreams)

    try:
        assert attempts("POST", {}) == (503, 1)  # the client gets the uncertainty, not a second allocation
        status, tries = attempts("POST", {"Idempotency-Key": "k-1"})
        assert (status, tries) == (503, 4)  # the first try and three retries: the key makes them harmless
        status, tries = attempts("GET", {})
        assert (status, tries) == (503, 4)
    finally:
        envoy.stop()
        for upstream in upstreams:
            upstream.close()
