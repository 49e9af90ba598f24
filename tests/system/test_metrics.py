"""`/metrics` of one replica with two granian workers: the counts of both workers, summed, by route template.

Each worker is its own process with its own prometheus-client registry; only the multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, set by AppProcess as by `coins serve`) adds them up. Without it a scrape would
see whichever worker answered it, and the count would come out at roughly half.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.support.servers import AppProcess

pytestmark = pytest.mark.system

LOGIN_REQUESTS = 40
MISSES = 5
LOGIN_LABELS = {"method": "GET", "route": "/login", "status": "200"}


@pytest.fixture(scope="module")
def app(app_env: Callable[..., dict[str, str]]) -> Iterator[AppProcess]:
    process = AppProcess(env=app_env(), workers=2).start()
    try:
        wait_until_every_worker_serves(process)
        yield process
    finally:
        process.stop()


def wait_until_every_worker_serves(app: AppProcess, timeout: float = 30.0) -> None:
    """AppProcess.start() returns once *a* worker answers; the second may still be importing the app, and
    then every request of the test lands on the first. Knock on /health (a new connection each time)
    until each worker has answered at least once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = {pid for pid, count in counts_per_process(app, {"route": "/health"}).items() if count}
        if worker_pids(app) <= answered:
            return
        httpx.get(app.url + "/health", timeout=5.0)
        time.sleep(0.05)
    raise RuntimeError(f"not every granian worker answered within {timeout} s:\n{app.log_text()}")


def samples(text: str, name: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def worker_pids(app: AppProcess) -> set[int]:
    assert app.process is not None
    return {child.pid for child in psutil.Process(app.process.pid).children(recursive=True)}


def counts_per_process(app: AppProcess, labels: dict[str, str]) -> dict[int, float]:
    """http_requests_total matching `labels`, per worker process. Multiprocess mode keeps one file per
    process (counter_PID.db); each is collected alone, from a scratch folder of its own."""
    assert app.process is not None
    folder = Path(psutil.Process(app.process.pid).environ()["PROMETHEUS_MULTIPROC_DIR"])
    counts: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for path in folder.glob("counter_*.db"):
            if path.stat().st_size == 0:
                continue  # a worker is creating it this very moment (open, then truncate to size)
            alone = Path(scratch) / path.stem
            alone.mkdir()
            shutil.copy(path, alone / path.name)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
            counts[int(path.stem.removeprefix("counter_"))] = sum(
                s.value
                for s in samples(generate_latest(registry).decode(), "http_requests_total")
                if labels.items() <= s.labels.items()
            )
    return counts


async def test_request_counts_add_up_across_workers(app: AppProcess) -> None:
    # Separate connections, several at a time: a single keep-alive connection would stay with one worker.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=app.url, timeout=15.0, limits=limits) as client:
        semaphore = asyncio.Semaphore(8)

        async def get(path: str) -> int:
            async with semaphore:
                return (await client.get(path)).status_code

        statuses = await asyncio.gather(*(get("/login") for _ in range(LOGIN_REQUESTS)))
        assert statuses == [200] * LOGIN_REQUESTS
        misses = [f"/no-such-page/{uuid.uuid4().hex}" for _ in range(MISSES)]
        assert await asyncio.gather(*(get(path) for path in misses)) == [404] * MISSES

        # The requests were really spread over both workers, so the totals below have two addends.
        per_worker = counts_per_process(app, LOGIN_LABELS)
        assert set(per_worker) == worker_pids(app), per_worker
        assert len(per_worker) == 2
        assert all(count > 0 for count in per_worker.values()), per_worker
        assert sum(per_worker.values()) == LOGIN_REQUESTS

        # Every scrape (answered by either worker) reports the same totals.
        scrapes = [await client.get("/metrics") for _ in range(6)]

    for scrape in scrapes:
        assert scrape.status_code == 200
        assert scrape.headers["content-type"].startswith("text/plain")
        requests = samples(scrape.text, "http_requests_total")
        login = [s for s in requests if s.labels == LOGIN_LABELS]
        assert sum(s.value for s in login) == LOGIN_REQUESTS, login

        # Unknown paths are one series, never one per URL (a scanner cannot blow up the series count).
        unmatched = [s for s in requests if s.labels["route"] == "unmatched"]
        assert {(s.labels["method"], s.labels["status"]) for s in unmatched} == {("GET", "404")}
        assert sum(s.value for s in unmatched) == MISSES
        assert not [s for s in requests if "no-such-page" in s.labels["route"]]

        buckets = samples(scrape.text, "http_request_duration_seconds_bucket")
        login_buckets = {s.labels["le"]: s.value for s in buckets if s.labels["route"] == "/login"}
        assert login_buckets["+Inf"] == LOGIN_REQUESTS
        assert list(login_buckets.values()) == sorted(login_buckets.values())  # cumulative
        assert {"/login", "unmatched", "/health"} <= {s.labels["route"] for s in buckets}
