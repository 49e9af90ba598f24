"""Live ranking across replicas: a board's event stream on replica 2 hears of an allocation made through
replica 1 (Valkey pub/sub), within about a second; a burst of allocations makes only a few events
(coalesced when published, and at most one event a second per stream); a stream ends cleanly when its
replica shuts down.

Everything goes over real HTTP to two granian processes started the way production starts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from valkey.asyncio import Valkey

from coins.lib import live
from coins.settings import Settings
from tests.conftest import PASSWORD, make_admin
from tests.support.coins import add_ideas
from tests.support.factories import campaign_body
from tests.support.servers import AppProcess, unique_email

pytestmark = [pytest.mark.system, pytest.mark.usefixtures("clean")]

SLUG = "live-board"


@pytest.fixture(scope="module")
def replicas(app_env: Callable[..., dict[str, str]]) -> Iterator[tuple[AppProcess, AppProcess]]:
    env = app_env()
    one, two = AppProcess(env=env), AppProcess(env=env)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:  # both boot at once: half the wait
            for started in [pool.submit(one.start), pool.submit(two.start)]:
                started.result()
        yield one, two
    finally:
        one.stop()
        two.stop()


@dataclass
class Stream:
    """What an event-stream client saw: each event with the time it arrived, and the comments."""

    events: list[tuple[float, str, str]] = field(default_factory=list)  # (when, event, id)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None
    listening: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set by every event

    async def next_event(self, timeout: float) -> bool:
        """Wait for the next event (False when none comes within `timeout` seconds)."""
        self.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.arrived.wait(), timeout)
        return self.arrived.is_set()

    def named(self, name: str, since: float = 0.0) -> list[tuple[float, str, str]]:
        return [event for event in self.events if event[1] == name and event[0] >= since]


async def read(response: httpx.Response, stream: Stream) -> None:
    fields: dict[str, str] = {}
    try:
        async for line in response.aiter_lines():
            if line.startswith(":"):
                stream.comments.append(line[1:].strip())
                if line[1:].strip() == "listening":
                    stream.listening.set()
            elif line:
                name, _, value = line.partition(":")
                fields[name] = value.strip()
                if name == "retry":
                    stream.retry = int(value)
            else:  # a blank line ends a message
                if "event" in fields:
                    stream.events.append((time.monotonic(), fields["event"], fields.get("id", "")))
                    stream.arrived.set()
                fields = {}
    finally:
        stream.ended.set()


@contextlib.asynccontextmanager
async def watching(base_url: str, path: str, headers: dict[str, str] | None = None) -> AsyncIterator[Stream]:
    stream = Stream()
    timeout = httpx.Timeout(5.0, read=60.0)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout) as client,
        client.stream("GET", path, headers={"Accept": "text/event-stream", **(headers or {})}) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        reader = asyncio.create_task(read(response, stream))
        try:
            await asyncio.wait_for(stream.listening.wait(), timeout=5.0)
            yield stream
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await reader


@dataclass
class Board:
    campaign_id: str
    ideas: list[int]
    member: dict[str, str]


async def make_board(base_url: str, settings: Settings, db_engine: AsyncEngine) -> Board:
    admin_email = unique_email("admin")
    await make_admin(settings, admin_email, PASSWORD)
    async with httpx.AsyncClient(base_url=base_url, timeout=15.0) as api:

        async def bearer(email: str) -> dict[str, str]:
            response = await api.post("/api/auth/token", json={"email": email, "password": PASSWORD})
            assert response.status_code == 200, response.text
            return {"Authorization": f"Bearer {response.json()['access_token']}"}

        admin = await bearer(admin_email)
        created = await api.post("/api/campaigns", json=campaign_body(slug=SLUG), headers=admin)
        assert created.status_code == 201, created.text
        assert (await api.post(f"/api/campaigns/{SLUG}/activate", headers=admin)).status_code == 200
        member_email = unique_email("member")
        registered = await api.post(
            "/api/auth/register", json={"email": member_email, "password": PASSWORD, "full_name": "Mia Member"}
        )
        assert registered.status_code == 201, registered.text
        member = await bearer(member_email)
        assert (await api.post(f"/api/campaigns/{SLUG}/join", headers=member)).status_code == 200
    ideas = await add_ideas(db_engine, created.json()["id"], 2)
    return Board(created.json()["id"], ideas, member)


async def test_an_allocation_on_one_replica_reaches_a_board_watched_on_the_other(
    replicas: tuple[AppProcess, AppProcess], settings: Settings, db_engine: AsyncEngine, valkey: Valkey
) -> None:
    one, two = replicas
    board = await make_board(one.url, settings, db_engine)
    first, second = board.ideas
    published: list[float] = []

    async def count_published() -> None:
        pubsub = valkey.pubsub()
        await pubsub.subscribe(live.CHANNEL_PREFIX + live.campaign_topic(board.campaign_id))
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    published.append(time.monotonic())
        finally:
            await pubsub.aclose()

    counter = asyncio.create_task(count_published())
    async with (
        watching(two.url, f"/campaigns/{SLUG}/live") as stream,
        httpx.AsyncClient(base_url=one.url, timeout=15.0) as api,
    ):
        assert stream.retry == 2000  # the browser's reconnection delay
        assert not stream.events  # nothing happened yet: no event on connecting

        async def allocate(idea_id: int, amount: int = 1) -> None:
            response = await api.post(
                f"/api/campaigns/{SLUG}/coins/allocate",
                json={"idea_id": idea_id, "amount": amount},
                headers=board.member,
            )
            assert response.status_code == 200, response.text

        # One allocation through replica 1: the stream on replica 2 says so within about a second.
        started = time.monotonic()
        waiting = asyncio.create_task(stream.next_event(3.0))
        await allocate(second, 5)
        await waiting
        assert stream.named("ranking"), f"no ranking event within 3 s: {stream.comments}"
        latency = stream.events[0][0] - started
        assert latency < 1.0, f"the ranking event took {latency:.2f} s"
        _, _, event_id = stream.events[0]
        assert int(event_id) > 0  # the change's time: a reconnecting browser sends it back (Last-Event-ID)
        # What the board then re-reads on replica 2 is the new order.
        async with httpx.AsyncClient(base_url=two.url, timeout=15.0) as viewer:
            listing = await viewer.get(
                f"/campaigns/{SLUG}/ideas", headers={"HX-Request": "true", "HX-Target": "idea-list"}
            )
        order = [int(i) for i in re.findall(r'id="idea-row-(\d+)"', listing.text)]
        assert order == [second, first]
        assert f'id="idea-coins-{second}"><strong>5</strong> coins' in listing.text

        # A burst of 50 allocations (five at a time): a few messages on Valkey, a few events on the stream.
        await asyncio.sleep(1.1)  # let the stream's one-a-second window from the first event pass
        published.clear()
        burst_start = time.monotonic()
        for _ in range(10):
            await asyncio.gather(*(allocate(first) for _ in range(5)))
        burst_seconds = time.monotonic() - burst_start
        await asyncio.sleep(1.5)  # the trailing event
        burst_events = stream.named("ranking", since=burst_start)
        assert 1 <= len(burst_events) <= burst_seconds + 2, (len(burst_events), burst_seconds)
        assert len(published) <= burst_seconds / live.COALESCE_SECONDS + 2, (len(published), burst_seconds)
        gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(burst_events)]
        assert all(gap >= 0.95 for gap in gaps), gaps  # at most one event a second per stream
        print(
            f"\nlatency {latency * 1000:.0f} ms; burst of 50 allocations in {burst_seconds:.2f} s: "
            f"{len(published)} messages published, {len(burst_events)} events on the stream"
        )
    counter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await counter

    # A browser that comes back with the last id it saw hears at once that it missed something.
    async with watching(two.url, f"/campaigns/{SLUG}/live", {"Last-Event-ID": event_id}) as again:
        if not again.events:
            await again.next_event(2.0)
        assert again.named("ranking"), "a reconnecting stream was not told of the changes it missed"


async def test_a_stream_ends_cleanly_when_its_replica_shuts_down(
    app_env: Callable[..., dict[str, str]], settings: Settings, db_engine: AsyncEngine
) -> None:
    replica = AppProcess(env=app_env()).start()
    try:
        await make_board(replica.url, settings, db_engine)
        async with watching(replica.url, f"/campaigns/{SLUG}/live") as stream:
            started = time.monotonic()
            assert replica.process is not None
            replica.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(stream.ended.wait(), timeout=10.0)
            ended_after = time.monotonic() - started
        exit_code = await asyncio.to_thread(replica.process.wait, 15.0)
        assert exit_code == 0, replica.log_text()
        assert ended_after < 5.0, f"the stream stayed open {ended_after:.1f} s after SIGTERM"
        assert "Traceback" not in replica.log_text(), replica.log_text()
    finally:
        replica.stop()
