"""The notification jobs: delivery, fan-out, coins received, the daily digest, and their sweepers.

`worker.py` lists FUNCTIONS and CRON_JOBS.  Every job gets its Notifier from the worker context (the same
mailer and Valkey client that the worker's database sessions carry).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from saq import CronJob
from sqlalchemy import func, select

from coins.lib.db import standalone_session
from coins.notifications import digest, mail
from coins.notifications.mail import Mailer
from coins.notifications.models import NotificationFanout
from coins.notifications.services import Notifier, fanout_job, notifier_of, run_fanout
from coins.notifications.triggers import clear_coins_received_flag, process_coins_received

if TYPE_CHECKING:
    from coins.worker import Context

logger = logging.getLogger("coins.notifications.tasks")

# A fan-out whose row has not moved for this long lost its job (worker killed): the sweeper restarts it.
FANOUT_STALL = timedelta(minutes=2)


def notifier(ctx: Context) -> Notifier:
    """The worker's Notifier: the one its sessions carry, or one made from the context."""
    bound = notifier_of(ctx["db"])
    if bound is not None:
        return bound
    return Notifier(Mailer(ctx["settings"], ctx["templates"], ctx.get("queue")), ctx.get("valkey"))


async def deliver_email_batch(ctx: Context, *, message_ids: list[str]) -> dict[str, int]:
    async with standalone_session(ctx["db"]) as session:
        return await mail.deliver_many(session, ctx["settings"], [UUID(m) for m in message_ids])


async def fan_out_notifications(ctx: Context, *, fanout_id: int) -> dict[str, Any]:
    job = ctx.get("job")

    async def heartbeat() -> None:
        if job is not None:
            await job.update()

    async with standalone_session(ctx["db"]) as session:
        progress = await run_fanout(session, notifier(ctx), fanout_id, after_batch=heartbeat)
    return {"batches": progress.batches, "notified": progress.notified, "emails": progress.emails}


async def notice_coins_received(ctx: Context, *, idea_id: int) -> dict[str, Any]:
    runtime = notifier(ctx)
    if runtime.valkey is not None:
        # Before reading the ledger: an allocation committed after this point schedules its own job.
        await clear_coins_received_flag(runtime.valkey, idea_id)
    async with standalone_session(ctx["db"]) as session:
        return await process_coins_received(session, runtime, idea_id)


async def send_daily_digests(ctx: Context) -> int:
    async with standalone_session(ctx["db"]) as session:
        sent = await digest.send_digests(session, notifier(ctx))
    if sent:
        logger.info("sent %s daily digests", sent)
    return sent


async def sweep_fanouts(ctx: Context) -> int:
    """Restart fan-outs whose job died (their row stopped moving); running two at once is harmless."""
    async with standalone_session(ctx["db"]) as session:
        return await requeue_stalled_fanouts(session, ctx["queue"], older_than=FANOUT_STALL)


async def requeue_stalled_fanouts(session: Any, queue: Any, *, older_than: timedelta) -> int:
    rows = await session.scalars(
        select(NotificationFanout.id)
        .where(
            NotificationFanout.status != "done",
            NotificationFanout.updated_at <= func.now() - older_than,
        )
        .order_by(NotificationFanout.id)
        .limit(100)
    )
    ids = list(rows)
    await session.rollback()
    for fanout_id in ids:
        # No key: the dead job may still hold the fan-out's key in SAQ until it is swept.
        await queue.enqueue(fanout_job(fanout_id))
    if ids:
        logger.info("restarted stalled fan-outs %s", ids)
    return len(ids)


FUNCTIONS: list[Any] = [
    deliver_email_batch,
    fan_out_notifications,
    notice_coins_received,
    send_daily_digests,
    sweep_fanouts,
]
CRON_JOBS: list[CronJob[Any]] = [
    CronJob(send_daily_digests, cron="0 7 * * *", timeout=1800, retries=2),
    CronJob(sweep_fanouts, cron="* * * * *", timeout=60, retries=1),
]
