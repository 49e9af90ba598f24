"""A 100,000-entry ledger exports as CSV through the real app (granian, one worker) in flat memory.

The export streams from a server-side cursor in batches, so the worker never holds the whole ledger.
While a client reads the stream, a thread samples the resident memory of the app's processes; the peak
growth over the baseline must stay far below the size of the data (a version that loaded the rows into
Python first grows by well over 100 MB here).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import psutil
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.settings import Settings
from tests.support.coins import make_arena
from tests.support.factories import Actors
from tests.support.servers import AppProcess

pytestmark = pytest.mark.system

ROWS = 100_000
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(app_env: Callable[..., dict[str, str]]) -> Iterator[AppProcess]:
    process = AppProcess(env=app_env(), workers=1).start()
    try:
        yield process
    finally:
        process.stop()


class RssSampler:
    """The summed resident memory of a process tree (granian's supervisor and its worker), every 5 ms."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        total = 0
        for process in [self.root, *self.root.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.005)

    def __enter__(self) -> RssSampler:
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def consume(server: AppProcess, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """Read the export as a slow-ish client would, chunk by chunk; (bytes, lines)."""
    size = lines = 0
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=120) as client,
        client.stream("GET", path, headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/csv")
        async for chunk in response.aiter_raw():
            size += len(chunk)
            lines += chunk.count(b"\n")
            await asyncio.sleep(0)
    return size, lines


async def test_a_100k_row_ledger_streams_in_flat_memory(
    server: AppProcess,
    client: AsyncTestClient[Litestar],
    settings: Settings,
    db_engine: AsyncEngine,
) -> None:
    actors = await Actors(client, settings).setup()
    arena = await make_arena(client, actors, db_engine, slug="big-ledger", members=1, ideas=1)
    # The ledger is append-only (a trigger refuses UPDATE and DELETE); inserting is what it is for.
    async with db_engine.begin() as conn:
        user_id = (
            await conn.execute(text("SELECT id FROM users WHERE email = :e"), {"e": arena.emails[0]})
        ).scalar_one()
        await conn.execute(
            text(
                """
                INSERT INTO coin_ledger (campaign_id, user_id, actor_id, kind, amount, votes, idea_id, reason,
                                         created_at)
                SELECT CAST(:c AS uuid), :u, :u, CASE WHEN n % 2 = 0 THEN 'allocate' ELSE 'release' END,
                       1 + n % 7, 1 + n % 7, :idea, 'bulk entry ' || n, now() - n * interval '1 second'
                FROM generate_series(1, :rows) AS n
                """
            ),
            {"c": arena.campaign_id, "u": user_id, "idea": arena.ideas[0], "rows": ROWS},
        )
        total = (
            await conn.execute(
                text("SELECT count(*) FROM coin_ledger WHERE campaign_id = CAST(:c AS uuid)"), {"c": arena.campaign_id}
            )
        ).scalar_one()
    assert total == ROWS + 2  # and the manager's and the member's initial grants

    path = f"/api/campaigns/{arena.slug}/export?what=ledger&format=csv"
    # Warm up the worker (imports, pools, caches) on a small export, then measure the big one.
    await consume(server, f"/api/campaigns/{arena.slug}/export?what=members&format=csv", arena.manager)
    assert server.process is not None
    with RssSampler(server.process.pid) as memory:
        baseline = memory.current()
        started = time.monotonic()
        size, lines = await consume(server, path, arena.manager)
        elapsed = time.monotonic() - started
    growth = memory.peak - baseline

    assert lines == 1 + total  # the header, then every entry
    assert size > 8 * MiB, size
    print(
        f"\nexported {lines - 1:,} rows, {size / MiB:.1f} MiB in {elapsed:.1f} s; peak RSS growth {growth / MiB:.1f} MiB"
    )
    # Flat: the worker holds one batch (500 rows) at a time; about 2 MiB measured here. Far below the data
    # itself, and far below the >100 MiB that materialising 100k rows as Python objects costs.
    assert growth < size / 3, f"peak RSS grew by {growth / MiB:.1f} MiB for a {size / MiB:.1f} MiB export"
