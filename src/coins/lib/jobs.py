"""Background jobs: enqueue only after the transaction that made the work has committed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from saq import Job

from coins.lib.db import after_commit

if TYPE_CHECKING:
    from saq.queue import Queue
    from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger("coins.jobs")


@dataclass(frozen=True)
class TaskOptions:
    """SAQ's defaults (10 s, one attempt) are too short for network work: every task states its own."""

    timeout: int = 60
    retries: int = 5
    retry_delay: float = 2.0
    # Exponential backoff, capped at this many seconds between attempts.
    retry_backoff: float = 300.0


TASK_OPTIONS: dict[str, TaskOptions] = {
    "deliver_email": TaskOptions(timeout=60, retries=8, retry_delay=2.0, retry_backoff=600.0),
}


def make_job(function: str, *, key: str | None = None, **kwargs: Any) -> Job:
    options = TASK_OPTIONS.get(function, TaskOptions())
    job = Job(
        function=function,
        kwargs=kwargs,
        timeout=options.timeout,
        retries=options.retries,
        retry_delay=options.retry_delay,
        retry_backoff=options.retry_backoff,
    )
    if key:
        # A fixed key makes SAQ refuse a second copy of the same job while one is queued or running.
        job.key = key
    return job


async def enqueue(queue: Queue, function: str, *, key: str | None = None, **kwargs: Any) -> None:
    await queue.enqueue(make_job(function, key=key, **kwargs))


def enqueue_after_commit(
    session: AsyncSession, queue: Queue | None, function: str, *, key: str | None = None, **kwargs: Any
) -> None:
    if queue is None:
        logger.warning("no job queue configured; %s not enqueued (a sweeper will pick it up)", function)
        return

    async def _send() -> None:
        await enqueue(queue, function, key=key, **kwargs)

    after_commit(session, _send)
