"""The worker's /metrics: its job counters plus the queue's depth, read from Valkey at scrape time.

`coins_queue_jobs{state}` (queued: waiting for a worker; active: running; scheduled: retries and
delayed jobs waiting for their time) costs three Valkey commands per scrape and nothing between scrapes.
The counts are read on the worker's own event loop (the HTTP server runs in a thread), so they use the
queue's connection pool as the worker does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from saq.queue import Queue

logger = logging.getLogger("coins.worker.metrics")

SCRAPE_TIMEOUT = 3.0


async def queue_counts(queue: Queue) -> dict[str, int]:
    queued = int(await queue.count("queued"))
    active = int(await queue.count("active"))
    incomplete = int(await queue.count("incomplete"))
    return {"queued": queued, "active": active, "scheduled": max(incomplete - queued - active, 0)}


class QueueCollector(Collector):
    def __init__(self, queue: Queue, loop: asyncio.AbstractEventLoop) -> None:
        self.queue = queue
        self.loop = loop

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("coins_queue_jobs", "Jobs in the SAQ queue, by state.", labels=["state"])
        up = GaugeMetricFamily("coins_queue_up", "1 when the queue's counts could be read from Valkey.")
        try:
            future = asyncio.run_coroutine_threadsafe(queue_counts(self.queue), self.loop)
            counts = future.result(timeout=SCRAPE_TIMEOUT)
        except Exception as exc:  # a scrape must answer even while Valkey is down
            logger.warning("queue counts unavailable: %s", exc)
            up.add_metric([], 0)
        else:
            for state, count in counts.items():
                jobs.add_metric([state], count)
            up.add_metric([], 1)
        yield jobs
        yield up


def serve_worker_metrics(queue: Queue, loop: asyncio.AbstractEventLoop, host: str, port: int) -> WSGIServer:
    """Serve /metrics on host:port in a thread: the job metrics (multiprocess files) and the queue depth."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(QueueCollector(queue, loop))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
