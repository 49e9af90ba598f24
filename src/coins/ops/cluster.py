"""`coins cluster`: the production topology on one machine.

N web replicas (`coins serve --no-worker --no-migrate`, granian with WEB_CONCURRENCY workers each), one
`coins worker`, and Envoy in front with the production config (deploy/envoy/envoy.yaml rewritten to
local ports). PostgreSQL and Valkey are whatever DATABASE_URL / REDIS_URL point at (the `coins cluster`
command starts the embedded servers when they are unset, and stops them last).

It behaves like a small orchestrator:

- a replica, the worker or Envoy that dies is started again (as Kubernetes restarts a crashed container);
- SIGHUP (or `rolling_restart()`) restarts the replicas one at a time: SIGTERM, granian drains in-flight
  requests, start again on the same port, wait until `/ready` answers and Envoy's health check passes,
  then the next one; Envoy retries whatever reached a replica that was going away;
- SIGINT/SIGTERM stops everything in order: Envoy first (no new requests), then the replicas (SIGTERM and
  a drain period), then the worker (it finishes its running jobs).

The state (pids and ports) is kept in `<DATA_DIR>/cluster/cluster.json` for operators and tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from coins.lib.embedded import free_port
from coins.ops.envoy import EnvoyProcess, die_with_parent

Say = Callable[[str], None]

START_TIMEOUT = 90.0
POLL_SECONDS = 0.2


def _print(message: str) -> None:
    print(message, flush=True)


def _wait_http(url: str, process: subprocess.Popen[bytes], *, timeout: float, want: int = 200) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} before {url} answered")
        try:
            response = httpx.get(url, timeout=2.0)
        except httpx.HTTPError as exc:
            last = str(exc) or type(exc).__name__
        else:
            if response.status_code == want:
                return
            last = f"status {response.status_code}: {response.text[:200]}"
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer {want} within {timeout:.0f} s ({last})")


def _stop_process(process: subprocess.Popen[bytes] | None, *, timeout: float) -> int | None:
    """SIGTERM to the process (as Kubernetes sends it to PID 1), SIGKILL to its group after `timeout`."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    # granian's workers follow their main process; anything left in the group is an orphan.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.returncode


@dataclass
class Replica:
    index: int
    port: int
    log_path: Path
    metrics_base: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    backoff: float = 0.0
    next_attempt: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: Mapping[str, str]) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, arguments built here
                [
                    sys.executable,
                    "-m",
                    "coins",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--no-worker",
                    "--no-migrate",
                ],
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the cluster, which stops replicas in order
                preexec_fn=die_with_parent,  # noqa: PLW1509 - the cluster is single-threaded
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, drain: float) -> int | None:
        code = _stop_process(self.process, timeout=drain)
        if self.process is not None and self.metrics_base is not None:
            # `coins serve` removes its multiprocess-metrics folder on the way out, unless it was killed.
            shutil.rmtree(self.metrics_base / f"metrics-{self.process.pid}", ignore_errors=True)
        return code


@dataclass
class Cluster:
    replicas: int
    data_dir: Path
    env: Mapping[str, str]
    host: str = "127.0.0.1"
    port: int = 8080
    drain_seconds: float = 30.0
    say: Say = _print
    members: list[Replica] = field(default_factory=list)
    worker: subprocess.Popen[bytes] | None = None
    worker_metrics_port: int = 0
    envoy: EnvoyProcess | None = None
    _stop_requested: bool = False
    _worker_next_attempt: float = 0.0
    _restart_requested: bool = False

    @property
    def root(self) -> Path:
        return self.data_dir / "cluster"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in {"0.0.0.0", ""} else self.host  # noqa: S104 - a comparison
        return f"http://{host}:{self.port}"

    @property
    def state_path(self) -> Path:
        return self.root / "cluster.json"

    # Start ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Everything at once (replicas, worker, Envoy), then wait until all of it answers."""
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.members = [
            Replica(
                index=i + 1,
                port=free_port(),
                log_path=self.root / "logs" / f"replica-{i + 1}.log",
                metrics_base=Path(self.env.get("PROMETHEUS_MULTIPROC_DIR") or self.data_dir),
            )
            for i in range(self.replicas)
        ]
        for replica in self.members:
            replica.start(self.env)
        self._start_worker()
        self.envoy = EnvoyProcess(
            upstream_ports=[replica.port for replica in self.members],
            port=self.port,
            listen_host=self.host,
            workdir=self.root / "envoy",
            die_with_parent=True,
        ).launch()
        for replica in self.members:
            self._wait_replica(replica, ready=True)
            self.say(f"  replica {replica.index}: {replica.url} (pid {self._pid(replica.process)})")
        assert self.worker is not None
        try:
            _wait_http(f"http://127.0.0.1:{self.worker_metrics_port}/metrics", self.worker, timeout=START_TIMEOUT)
        except RuntimeError as exc:
            tail = (self.root / "logs" / "worker.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker: {exc}\n--- its log ---\n{tail}") from exc
        self.say(f"  worker: pid {self.worker.pid}, metrics on 127.0.0.1:{self.worker_metrics_port}")
        self.envoy.wait_until_upstreams_healthy(timeout=START_TIMEOUT)
        self._say_envoy()
        self.write_state()

    def _wait_replica(self, replica: Replica, *, ready: bool, timeout: float = START_TIMEOUT) -> None:
        assert replica.process is not None
        try:
            _wait_http(replica.url + ("/ready" if ready else "/health"), replica.process, timeout=timeout)
        except RuntimeError as exc:
            tail = replica.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"replica {replica.index}: {exc}\n--- its log ---\n{tail}") from exc

    def _start_worker(self) -> None:
        self.worker_metrics_port = self.worker_metrics_port or free_port()
        with (self.root / "logs" / "worker.log").open("ab") as log:
            self.worker = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "coins",
                    "worker",
                    "--metrics-host",
                    "127.0.0.1",
                    "--metrics-port",
                    str(self.worker_metrics_port),
                ],
                env=dict(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - the cluster is single-threaded
            )

    def _restart_envoy(self) -> None:
        assert self.envoy is not None
        self.envoy.start(timeout=START_TIMEOUT)
        self._say_envoy()

    def _say_envoy(self) -> None:
        assert self.envoy is not None
        self.say(f"  envoy: {self.url} (admin {self.envoy.admin_url}), access log {self.envoy.access_log_path}")

    @staticmethod
    def _pid(process: subprocess.Popen[bytes] | None) -> int | None:
        return process.pid if process is not None else None

    def write_state(self) -> None:
        state: dict[str, Any] = {
            "pid": os.getpid(),
            "url": self.url,
            "envoy": {
                "pid": self._pid(self.envoy.process) if self.envoy else None,
                "port": self.port,
                "admin_port": self.envoy.admin_port if self.envoy else None,
                "access_log": str(self.envoy.access_log_path) if self.envoy else None,
            },
            "replicas": [
                {
                    "index": r.index,
                    "pid": self._pid(r.process),
                    "port": r.port,
                    "starts": r.starts,
                    "log": str(r.log_path),
                }
                for r in self.members
            ],
            "worker": {"pid": self._pid(self.worker), "metrics_port": self.worker_metrics_port},
        }
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2), encoding="utf-8")
        temporary.replace(self.state_path)

    # Operations -------------------------------------------------------------------------------------------

    def restart_replica(self, replica: Replica) -> None:
        """SIGTERM (granian stops accepting, drains in-flight requests), start again on the same port, wait
        until it is ready and back in Envoy's rotation."""
        code = replica.stop(self.drain_seconds)
        replica.start(self.env)
        self._wait_replica(replica, ready=True)
        if self.envoy is not None:
            self.envoy.wait_until_upstreams_healthy([replica.port], timeout=START_TIMEOUT)
        self.write_state()
        self.say(f"Rolling restart: replica {replica.index} restarted (exit code {code}, port {replica.port}).")

    def rolling_restart(self) -> float:
        started = time.monotonic()
        self.say(f"Rolling restart of {len(self.members)} replicas...")
        for replica in self.members:
            if self._stop_requested:
                break
            self.restart_replica(replica)
        seconds = time.monotonic() - started
        self.say(f"Rolling restart done in {seconds:.1f} s.")
        return seconds

    def supervise_once(self) -> None:
        """Start again whatever died (a crashed replica, worker or Envoy). A replica that fails to come
        back is tried again later, with a growing pause (as Kubernetes' CrashLoopBackOff)."""
        now = time.monotonic()
        for replica in self.members:
            if replica.alive() or now < replica.next_attempt:
                continue
            code = replica.process.returncode if replica.process is not None else None
            self.say(f"Replica {replica.index} (port {replica.port}) exited with {code}; starting it again.")
            replica.stop(0)  # reap whatever is left of its process group
            replica.start(self.env)
            try:
                self._wait_replica(replica, ready=False)
            except RuntimeError as exc:
                replica.backoff = min(max(replica.backoff * 2, 1.0), 30.0)
                replica.next_attempt = time.monotonic() + replica.backoff
                self.say(f"Replica {replica.index} failed to start; next try in {replica.backoff:.0f} s.\n{exc}")
                continue
            replica.backoff = 0.0
            self.write_state()
            self.say(f"Replica {replica.index} is back (pid {self._pid(replica.process)}).")
        if self.worker is not None and self.worker.poll() is not None and now >= self._worker_next_attempt:
            self.say(f"Worker exited with {self.worker.returncode}; starting it again.")
            # A worker that keeps crashing (say, a bad configuration) is not restarted in a tight loop.
            self._worker_next_attempt = now + 5.0
            self._start_worker()
            self.write_state()
        if self.envoy is not None and not self.envoy.running():
            self.say("Envoy exited; starting it again.")
            self._restart_envoy()
            self.write_state()

    # Run and stop -----------------------------------------------------------------------------------------

    def _on_stop(self, signum: int, _frame: object) -> None:
        self._stop_requested = True

    def _on_hangup(self, signum: int, _frame: object) -> None:
        self._restart_requested = True

    def run_forever(self) -> None:
        """Supervise until SIGINT/SIGTERM; SIGHUP triggers a rolling restart. Always stops in order."""
        previous = {
            sig: signal.signal(sig, handler)
            for sig, handler in (
                (signal.SIGINT, self._on_stop),
                (signal.SIGTERM, self._on_stop),
                (signal.SIGHUP, self._on_hangup),
            )
        }
        try:
            while not self._stop_requested:
                if self._restart_requested:
                    self._restart_requested = False
                    self.rolling_restart()
                else:
                    self.supervise_once()
                time.sleep(POLL_SECONDS)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()

    def stop(self) -> None:
        """Envoy first (no new requests reach anyone), then the replicas (each drains what it is serving),
        then the worker (it finishes its running jobs). The caller stops the databases afterwards."""
        if self.envoy is not None:
            self.say("Stopping Envoy...")
            self.envoy.stop()
        if self.members:
            self.say(f"Stopping {len(self.members)} replicas (SIGTERM, up to {self.drain_seconds:.0f} s to drain)...")
            for replica in self.members:
                if replica.process is not None and replica.process.poll() is None:
                    replica.process.send_signal(signal.SIGTERM)
            for replica in self.members:
                replica.stop(self.drain_seconds)
        if self.worker is not None:
            self.say("Stopping the worker...")
            _stop_process(self.worker, timeout=30.0)
        self.state_path.unlink(missing_ok=True)
        self.say("Cluster stopped.")
