"""`coins serve` drains in-flight requests on SIGTERM (what Kubernetes sends after the preStop sleep, and
what `coins cluster` sends in a rolling restart): it stops accepting connections at once, finishes the
request it is serving, then exits 0.

The in-flight request is made slow for real: the test holds an ACCESS EXCLUSIVE lock on `campaigns`, so
GET /api/campaigns waits inside the app until the lock is released, well after the SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.lib.embedded import free_port
from tests.support.servers import PROJECT_ROOT, port_is_free, wait_for_http

pytestmark = [pytest.mark.system, pytest.mark.usefixtures("clean")]


@pytest.fixture
def serve(app_env: Callable[..., dict[str, str]]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = {**os.environ, **app_env(WEB_CONCURRENCY="2")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = PROJECT_ROOT / ".coins" / f"graceful-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "coins", "serve", "--port", str(port), "--no-worker", "--no-migrate"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=60, process=process)
        # One answered request proves only one worker is up. Granian cannot stop a worker that is still
        # starting (it kills it after 30 s), so wait until both have reported in.
        deadline = time.monotonic() + 60
        while log.read_text().count("Started worker-") < 2:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.unlink(missing_ok=True)


async def test_sigterm_drains_the_request_in_flight(
    serve: tuple[subprocess.Popen[bytes], int], db_engine: AsyncEngine
) -> None:
    process, port = serve
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.get(url + "/api/campaigns")).status_code == 200  # warm

        async with db_engine.connect() as conn:
            transaction = await conn.begin()
            await conn.execute(text("LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE"))
            in_flight = asyncio.create_task(client.get(url + "/api/campaigns"))
            await _wait_for_waiting_query(db_engine)

            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)  # to the main process only, as Kubernetes does
            # It stops accepting at once: the port closes while the request is still being served.
            while not port_is_free(port):
                assert time.monotonic() - signalled < 10, "still accepting connections 10 s after SIGTERM"
                await asyncio.sleep(0.05)
            with pytest.raises(httpx.ConnectError):
                await client.get(url + "/health")
            assert not in_flight.done()
            await asyncio.sleep(1.0)
            assert not in_flight.done() and process.poll() is None  # still draining, not killed
            await transaction.rollback()

        response = await in_flight
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), dict | list)
    code = await asyncio.to_thread(process.wait, 30)
    assert code == 0
    assert time.monotonic() - signalled < 15  # exits once drained, not after the 30 s kill timeout


async def _wait_for_waiting_query(engine: AsyncEngine, timeout: float = 10.0) -> None:
    """Until the app's SELECT is blocked on our lock (it is in flight inside the app)."""
    deadline = time.monotonic() + timeout
    query = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%campaigns%'")
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            if (await conn.execute(query)).scalar_one() > 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the request never reached the database")
