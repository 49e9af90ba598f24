"""Worker tasks of the platforms domain: webhook delivery, its sweeper, and the coin-threshold check."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from saq import CronJob

from coins.lib.db import standalone_session
from coins.lib.jobs import enqueue
from coins.platforms import hooks
from coins.platforms.webhooks import delivery as webhook_delivery

if TYPE_CHECKING:
    from saq.types import Function

    from coins.worker_context import JobContext

logger = logging.getLogger("coins.webhooks")

# Longer than any retry waits (SAQ's backoff is capped at an hour): a pending delivery untouched for this
# long has lost its job (Valkey lost it, or the enqueue after commit failed).
STALLED_AFTER = timedelta(hours=2)


class WebhookAttemptFailed(Exception):
    """Raised so that SAQ retries the job with backoff (the row holds the details)."""


async def deliver_webhook(ctx: JobContext, *, delivery_id: str) -> str:
    job = ctx.get("job")
    final = job is None or job.attempts >= job.retries
    async with standalone_session(ctx["db"]) as session:
        outcome = await webhook_delivery.deliver(
            session, ctx["settings"], ctx["mailer"], UUID(delivery_id), final_attempt=final
        )
    if outcome.status == "retry":
        raise WebhookAttemptFailed(outcome.error)
    return outcome.status


async def sweep_webhooks(ctx: JobContext) -> int:
    """Re-enqueue deliveries whose job was lost; the job key keeps a live job from being doubled."""
    async with standalone_session(ctx["db"]) as session:
        stalled = await webhook_delivery.stalled_deliveries(session, older_than=STALLED_AFTER)
    for delivery_id in stalled:
        await enqueue(ctx["queue"], "deliver_webhook", key=f"webhook:{delivery_id}", delivery_id=str(delivery_id))
    if stalled:
        logger.info("re-enqueued %s stalled webhook deliveries", len(stalled))
    return len(stalled)


async def check_coin_thresholds(ctx: JobContext) -> int:
    async with standalone_session(ctx["db"]) as session:
        return await hooks.check_coin_thresholds(session, queue=ctx.get("queue"), links=ctx["mailer"].links)


FUNCTIONS: list[Function[JobContext]] = [deliver_webhook, sweep_webhooks, check_coin_thresholds]
CRON_JOBS: list[CronJob[JobContext]] = [
    CronJob(sweep_webhooks, cron="*/10 * * * *", timeout=120, retries=1),
    CronJob(check_coin_thresholds, cron="* * * * *", timeout=120, retries=1),
]
