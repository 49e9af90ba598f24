"""Live updates across replicas: topics on Valkey pub/sub, coalesced publishing, one subscription per process.

Publishing side.  A change only *marks* its topic dirty (`LivePublisher.mark`, or `campaign_changed` for a
campaign's ranking): no I/O, so the coin hot path pays nothing per allocation.  A background task per
process publishes the dirty topics in one pipelined round trip, then rests `COALESCE_SECONDS`, so each
topic is published at most about four times a second per process however many allocations arrive.  The
first change after a quiet spell goes out at once.  The same pipeline records when each topic last changed
(`livestamp:<topic>`, milliseconds), so a stream that (re)connects can tell whether it missed something.

Subscribing side.  `TopicHub` holds the process's only pattern subscription (`live:*`) and hands every
message to the in-process listeners of its topic (event streams, in practice).  When the subscription is
lost it reconnects with backoff and then wakes every listener, because messages sent meanwhile are gone.

Messages carry the change's timestamp and nothing else: listeners re-read whatever they show, so a lost,
repeated or merged message costs one query at most.  Publishing is a nicety on top of pages that are correct
on their own; it never raises into the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from coins.lib.db import after_commit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from valkey.asyncio import Valkey

logger = logging.getLogger("coins.live")

CHANNEL_PREFIX = "live:"
STAMP_PREFIX = "livestamp:"
# A topic is published at most once per this many seconds per process.
COALESCE_SECONDS = 0.25
# How long a topic's last-change time is kept (a stream that reconnects later just refreshes).
STAMP_TTL_MS = 3_600_000


def campaign_topic(campaign_id: UUID | str) -> str:
    return f"campaign:{campaign_id}"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Change:
    """One message for a listener: when the topic changed (ms since the epoch; 0 when unknown)."""

    topic: str
    stamp: int


# Publishing -------------------------------------------------------------------------------------------------


class LivePublisher:
    """Coalesces changes per topic and publishes them from one background task per process."""

    def __init__(self, valkey: Valkey, *, interval: float = COALESCE_SECONDS) -> None:
        self.valkey = valkey
        self.interval = interval
        self.published = 0  # messages sent (for tests and curiosity)
        self._dirty: set[str] = set()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._last_warning = 0.0

    def mark(self, topic: str) -> None:
        """Note that `topic` changed; it is published within `interval` seconds (no I/O here)."""
        if self._closed:
            return
        self._dirty.add(topic)
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            # First use, or a new event loop (tests run several): the old task cannot be woken from here.
            self._loop = loop
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(), name="live-publisher")
        assert self._wake is not None
        self._wake.set()

    async def _run(self) -> None:
        wake = self._wake
        assert wake is not None
        while not self._closed:
            await wake.wait()
            wake.clear()
            await self.flush()
            await asyncio.sleep(self.interval)

    async def flush(self) -> None:
        """Publish every dirty topic now, in one round trip (failures are logged, not raised)."""
        if not self._dirty:
            return
        topics, self._dirty = sorted(self._dirty), set()
        stamp = str(now_ms())
        try:
            pipe = self.valkey.pipeline(transaction=False)
            for topic in topics:
                pipe.set(STAMP_PREFIX + topic, stamp, px=STAMP_TTL_MS)
                pipe.publish(CHANNEL_PREFIX + topic, stamp)
            await pipe.execute()
            self.published += len(topics)
        except Exception as exc:  # live updates are a nicety: pages are right without them
            self._dirty.update(topics)  # sent with the next change, once Valkey is back
            if time.monotonic() - self._last_warning > 30:
                self._last_warning = time.monotonic()
                logger.warning("could not publish live updates (%d topics): %s", len(topics), exc)

    async def close(self) -> None:
        """Publish what is pending, then stop the task."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None and not task.done() and self._loop is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # Briefly: shutting down must not hang on a Valkey that is away (that may be why we stop).
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), timeout=1.0)


_publishers: weakref.WeakKeyDictionary[Any, LivePublisher] = weakref.WeakKeyDictionary()


def publisher_for(valkey: Valkey) -> LivePublisher:
    """The process's publisher for this Valkey client (one per client, made on first use)."""
    publisher = _publishers.get(valkey)
    if publisher is None:
        publisher = _publishers[valkey] = LivePublisher(valkey)
    return publisher


def campaign_changed(valkey: Valkey | None, campaign_id: UUID | str) -> None:
    """A campaign's ideas changed (coins, status, titles): tell everyone watching its board, coalesced.

    Call it only after the change is committed, or watchers may re-read the old state.  No I/O happens
    here; see the module docstring.
    """
    if valkey is None:
        return
    try:
        publisher_for(valkey).mark(campaign_topic(campaign_id))
    except Exception as exc:  # never let a nicety fail a coin operation
        logger.warning("could not mark campaign %s changed: %s", campaign_id, exc)


async def close_publisher(valkey: Valkey) -> None:
    publisher = _publishers.pop(valkey, None)
    if publisher is not None:
        await publisher.close()


def campaign_changed_after_commit(session: AsyncSession, valkey: Valkey | None, campaign_id: UUID | str) -> None:
    """`campaign_changed` once the session's transaction commits (nothing if it rolls back)."""

    async def publish() -> None:
        campaign_changed(valkey, campaign_id)

    after_commit(session, publish)


async def last_change(valkey: Valkey, topic: str) -> int:
    """When `topic` last changed (ms since the epoch), 0 when unknown or Valkey is unreachable."""
    try:
        raw = await valkey.get(STAMP_PREFIX + topic)
    except Exception:
        return 0
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


# Subscribing ------------------------------------------------------------------------------------------------


class TopicHub:
    """The process's one pattern subscription, fanned out to in-process listeners by topic."""

    def __init__(self, valkey: Valkey, *, queue_size: int = 8) -> None:
        self.valkey = valkey
        self.queue_size = queue_size
        self.listeners: dict[str, set[asyncio.Queue[Change | None]]] = {}
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self.connected = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="live-topic-hub")

    async def wait_connected(self) -> None:
        """Wait until the subscription is in place (callers bound the wait with a timeout)."""
        await self.connected.wait()

    def _deliver(self, topic: str, change: Change | None) -> None:
        for queue in list(self.listeners.get(topic, ())):
            with contextlib.suppress(asyncio.QueueFull):  # a full queue already holds a pending change
                queue.put_nowait(change)

    async def _run(self) -> None:
        delay = 0.2
        first = True
        while not self._closed:
            pubsub: Any = self.valkey.pubsub()
            try:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                self.connected.set()
                delay = 0.2
                if not first:
                    # Whatever was published while we were away is lost: everyone re-reads once.
                    for topic in list(self.listeners):
                        self._deliver(topic, Change(topic, 0))
                first = False
                while not self._closed:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if message is None or message.get("type") != "pmessage":
                        continue
                    self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                logger.warning("live subscription lost (%s); reconnecting in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _dispatch(self, message: dict[str, Any]) -> None:
        raw_channel, raw_data = message["channel"], message.get("data")
        channel = raw_channel.decode() if isinstance(raw_channel, bytes) else str(raw_channel)
        data = raw_data.decode() if isinstance(raw_data, bytes) else str(raw_data or "")
        topic = channel.removeprefix(CHANNEL_PREFIX)
        try:
            stamp = int(data)
        except ValueError:
            stamp = 0
        self._deliver(topic, Change(topic, stamp))

    @contextlib.asynccontextmanager
    async def listen(self, topic: str) -> AsyncIterator[asyncio.Queue[Change | None]]:
        """A queue that receives a `Change` whenever `topic` changes, and None when the process shuts down."""
        queue: asyncio.Queue[Change | None] = asyncio.Queue(maxsize=self.queue_size)
        if self._closed:
            queue.put_nowait(None)
        else:
            self.listeners.setdefault(topic, set()).add(queue)
            self._ensure_running()
        try:
            yield queue
        finally:
            listeners = self.listeners.get(topic)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    self.listeners.pop(topic, None)

    async def close(self) -> None:
        """End every listener (they receive None) and the subscription."""
        self._closed = True
        for queues in list(self.listeners.values()):
            for queue in list(queues):
                try:
                    queue.put_nowait(None)
                except asyncio.QueueFull:  # make room: the shutdown must get through
                    queue.get_nowait()
                    queue.put_nowait(None)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


# Shutting down ---------------------------------------------------------------------------------------------


def on_termination(callback: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run `callback` in the running event loop as soon as the process gets SIGTERM or SIGINT; the signal
    then goes on to whatever handled it before.  Returns a function that takes the hook out again.

    Why: on SIGTERM granian stops accepting connections and waits for the open responses to finish before
    it runs the ASGI lifespan shutdown.  An event stream never finishes by itself, so without this every
    replica with a board open somewhere would wait for its kill timeout, and skip its lifespan cleanup.
    Ending the streams at once lets the drain complete; browsers reconnect to another replica.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # only the main thread may set signal handlers
    loop = asyncio.get_running_loop()
    installed: dict[int, tuple[Any, Any]] = {}
    running: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks

    def start() -> None:
        task = loop.create_task(callback())
        running.add(task)
        task.add_done_callback(running.discard)

    def chained(previous: Any) -> Callable[[int, Any], None]:
        def handler(signum: int, frame: Any) -> None:
            with contextlib.suppress(RuntimeError):  # that loop is closed already
                loop.call_soon_threadsafe(start)
            if callable(previous):
                previous(signum, frame)  # asyncio's loop handlers (granian's shutdown), Python's KeyboardInterrupt
            elif previous == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        return handler

    for number in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(number)
        if previous in (signal.SIG_IGN, None):
            continue
        handler = chained(previous)
        signal.signal(number, handler)
        installed[number] = (handler, previous)

    def undo() -> None:
        for number, (handler, previous) in installed.items():
            if signal.getsignal(number) is handler:
                signal.signal(number, previous)

    return undo
