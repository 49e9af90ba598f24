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
    # Notifications: up to 100 emails over one SMTP connection; a fan-out of thousands in batches (it also
    # touches a heartbeat per batch, so a killed worker's fan-out is retried); coins received, coalesced.
    "deliver_email_batch": TaskOptions(timeout=600, retries=8, retry_delay=2.0, retry_backoff=600.0),
    "fan_out_notifications": TaskOptions(timeout=3600, retries=10, retry_delay=2.0, retry_backoff=120.0),
    "notice_coins_received": TaskOptions(timeout=60, retries=5, retry_delay=2.0, retry_backoff=60.0),
    # Search indexing: quick, and a lost update is repaired by the next change or `coins search reindex`.
    "index_idea": TaskOptions(timeout=30, retries=6, retry_delay=1.0, retry_backoff=120.0),
    # Webhooks (coins.platforms.webhooks): 2 s doubling up to an hour, with SAQ's full jitter; 60 attempts
    # span about a day, after which an endpoint that never answered is disabled.
    "deliver_webhook": TaskOptions(timeout=30, retries=60, retry_delay=2.0, retry_backoff=3600.0),
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
