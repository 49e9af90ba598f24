"""`coins cluster` on a fresh machine: with nothing configured it starts embedded PostgreSQL and Valkey,
migrates, runs a replica, the worker and Envoy, announces the URL; Ctrl-C stops Envoy, the replicas,
the worker, and the databases last, leaving no process behind. (tests/system/test_failover.py drives the
same command against external servers, under load.)"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from coins.lib.embedded import free_port
from tests.support.servers import PROJECT_ROOT
from tests.system.test_serve_cli import data_dir, fresh_machine_env, processes_using  # noqa: F401 (fixture)

pytestmark = pytest.mark.system

RUNNING = re.compile(r"cluster is running at (http://\S+)")


def test_cluster_with_embedded_servers(data_dir: Path) -> None:  # noqa: F811 (the fixture)
    env = fresh_machine_env(data_dir)
    log_path = data_dir / "cluster.log"
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "coins", "cluster", "--replicas", "1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while (match := RUNNING.search(log_path.read_text(errors="replace"))) is None:
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        url = match.group(1)
        assert url == f"http://127.0.0.1:{port}"
        output = log_path.read_text()
        assert "PostgreSQL (embedded)" in output and "Valkey (embedded)" in output
        assert "First run: log in at" in output

        health = httpx.get(url + "/health", timeout=10)
        assert health.status_code == 200
        assert "x-envoy-upstream-service-time" in health.headers  # answered through Envoy
        ready = httpx.get(url + "/ready", timeout=10)
        assert ready.status_code == 200, ready.text

        state = json.loads((data_dir / "cluster" / "cluster.json").read_text())
        worker_metrics = httpx.get(f"http://127.0.0.1:{state['worker']['metrics_port']}/metrics", timeout=10)
        assert "coins_queue_jobs" in worker_metrics.text
        assert processes_using(data_dir)

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole foreground group
        assert process.wait(timeout=60) == 0
        output = log_path.read_text()
        order = ["Stopping Envoy...", "Stopping 1 replicas", "Stopping the worker...", "Cluster stopped.",
                 "Embedded servers stopped."]  # fmt: skip
        positions = [output.find(line) for line in order]
        assert all(p >= 0 for p in positions) and positions == sorted(positions), output[-3000:]
        time.sleep(0.5)
        assert processes_using(data_dir) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
