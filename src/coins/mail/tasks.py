"""The email jobs: deliver one message or a batch over one SMTP connection, and sweep up lost deliveries."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from saq import CronJob

from coins.lib.db import standalone_session
from coins.mail import delivery

if TYPE_CHECKING:
    from saq.types import Function

    from coins.worker_context import JobContext


async def deliver_email(ctx: JobContext, *, message_id: str) -> str:
    async with standalone_session(ctx["db"]) as session:
        return await delivery.deliver(session, ctx["settings"].smtp, UUID(message_id))


async def deliver_email_batch(ctx: JobContext, *, message_ids: list[str]) -> dict[str, int]:
    async with standalone_session(ctx["db"]) as session:
        return await delivery.deliver_many(session, ctx["settings"].smtp, [UUID(m) for m in message_ids])


async def sweep_emails(ctx: JobContext) -> int:
    """Re-enqueue emails whose delivery job was lost; harmless when run twice (delivery claims rows)."""
    if not ctx["settings"].smtp.host:
        return 0
    async with standalone_session(ctx["db"]) as session:
        return await delivery.requeue_stalled(session, ctx["queue"], older_than=timedelta(minutes=5))


FUNCTIONS: list[Function[JobContext]] = [deliver_email, deliver_email_batch, sweep_emails]
CRON_JOBS: list[CronJob[JobContext]] = [CronJob(sweep_emails, cron="*/5 * * * *", timeout=120, retries=1)]
