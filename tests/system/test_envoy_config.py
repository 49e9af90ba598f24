"""deploy/envoy/envoy.yaml, the file compose mounts and the replica tests run, is a valid Envoy config.

`envoy --mode validate` builds every listener and cluster without serving. The STRICT_DNS endpoints
(`web-1`, `web-2`) need not resolve for that: resolution starts only when Envoy runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.envoy import ENVOY_CONFIG, load_config, rewrite_for_local, validate, write_config

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
    for route in routes.values():
        policy = route["route"]["retry_policy"]
        assert policy["retry_on"] == "connect-failure,refused-stream,reset"
        assert policy["num_retries"] == 3
    assert routes["app"]["route"]["timeout"] == "60s"
    # Event streams must not be cut by the 60 s timeout: by path and by Accept header, before the catch-all.
    assert list(routes) == ["events", "event_stream_accept", "app"]
    assert routes["events"]["match"] == {"prefix": "/events"}
    assert routes["event_stream_accept"]["match"]["headers"][0]["name"] == "accept"
    for name in ("events", "event_stream_accept"):
        assert routes[name]["route"]["timeout"] == "0s"
        assert routes[name]["route"]["idle_timeout"] == "3600s"
