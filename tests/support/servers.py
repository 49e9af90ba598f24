"""Real servers for the tests: embedded PostgreSQL and Valkey, app processes (granian), Envoy.

Given TEST_DATABASE_URL / TEST_REDIS_URL the suite uses those servers instead of starting its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from coins.lib.embedded import EmbeddedPostgres, EmbeddedValkey, free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_SECRET = "test-only-secret-key-that-is-long-enough-0123456789"
TEST_JWT_SECRET = "test-only-jwt-secret-key-that-is-long-enough-0123456789"


@dataclass
class TestServers:
    postgres: EmbeddedPostgres | None
    valkey: EmbeddedValkey | None
    base_database_url: str
    redis_url: str
    workdir: Path

    def stop(self) -> None:
        if self.valkey is not None:
            self.valkey.stop()
        if self.postgres is not None:
            self.postgres.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_test_servers() -> TestServers:
    # Under the project folder: the embedded PostgreSQL user must be able to reach its data folder.
    base = PROJECT_ROOT / ".coins" / "test-servers"
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=base))
    postgres = valkey = None
    database_url = os.environ.get("TEST_DATABASE_URL", "")
    redis_url = os.environ.get("TEST_REDIS_URL", "")
    if not database_url:
        postgres = EmbeddedPostgres(workdir / "postgres", database="postgres")
        database_url = postgres.start()
    if not redis_url:
        valkey = EmbeddedValkey(workdir / "valkey")
        redis_url = valkey.start()
    return TestServers(postgres, valkey, database_url, redis_url, workdir)


def wait_for_http(url: str, *, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code < 500:
                return
            last_error = f"status {response.status_code}"
        except httpx.HTTPError as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s: {last_error}")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class AppProcess:
    """One replica of the web app, started the way production starts it (granian, the app factory)."""

    env: Mapping[str, str]
    port: int = field(default_factory=free_port)
    workers: int = 1
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 60.0) -> AppProcess:
        metrics_dir = Path(tempfile.mkdtemp(prefix="coins-metrics-"))
        env = {**os.environ, **self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        self.log_path = self.log_path or Path(tempfile.mkstemp(prefix=f"coins-app-{self.port}-", suffix=".log")[1])
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--workers-kill-timeout",
                "30",
                "coins.app:create_app",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # granian's workers are its children: stop the whole group
        )
        try:
            wait_for_http(self.url + "/health", timeout=timeout, process=self.process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n--- app log ---\n{self.log_text()}") from exc
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def kill(self) -> None:
        self.stop(signal.SIGKILL, timeout=10)


def app_environment(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": TEST_SECRET,
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
        "RATE_LIMIT_PER_MINUTE": "0",
        "AUTH_RATE_LIMIT_PER_MINUTE": "0",
        "LOG_LEVEL": "WARNING",
        "WORKER_IN_PROCESS": "false",
        "DATA_DIR": str(PROJECT_ROOT / ".coins" / "test-data"),
    }
    env.update(extra)
    return env


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"
