"""The notification jobs: fan-out, coins received, the daily digest, and the fan-out sweeper.

`worker.py` lists FUNCTIONS and CRON_JOBS.  Every job builds its Notifier from the worker context (the
worker's mailer and Valkey client).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from saq import CronJob
from sqlalchemy import func, select

from coins.lib.db import standalone_session
from coins.notifications import digest
from coins.notifications.fanout import fanout_job, run_fanout
from coins.notifications.models import NotificationFanout
from coins.notifications.notify import Notifier
from coins.notifications.triggers.coins_received import clear_coins_received_flag, process_coins_received

if TYPE_CHECKING:
    from saq.types import Function

    from coins.worker_context import JobContext

logger = logging.getLogger("coins.notifications.tasks")

# A fan-out whose row has not moved for this long lost its job (worker killed): the sweeper restarts it.
FANOUT_STALL = timedelta(minutes=2)


def notifier_of(ctx: JobContext) -> Notifier:
    return Notifier(ctx["mailer"], ctx.get("valkey"))


async def fan_out_notifications(ctx: JobContext, *, fanout_id: int) -> dict[str, Any]:
    job = ctx.get("job")

    async def heartbeat() -> None:
        if job is not None:
            await job.update()

    async with standalone_session(ctx["db"]) as session:
        progress = await run_fanout(session, notifier_of(ctx), fanout_id, after_batch=heartbeat)
    return {"batches": progress.batches, "notified": progress.notified, "emails": progress.emails}


async def notice_coins_received(ctx: JobContext, *, idea_id: int) -> dict[str, Any]:
    runtime = notifier_of(ctx)
    if runtime.valkey is not None:
        # Before reading the ledger: an allocation committed after this point schedules its own job.
        await clear_coins_received_flag(runtime.valkey, idea_id)
    async with standalone_session(ctx["db"]) as session:
        return await process_coins_received(session, runtime, idea_id)


async def send_daily_digests(ctx: JobContext) -> int:
    async with standalone_session(ctx["db"]) as session:
        sent = await digest.send_digests(session, notifier_of(ctx))
    if sent:
        logger.info("sent %s daily digests", sent)
    return sent


async def sweep_fanouts(ctx: JobContext) -> int:
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


FUNCTIONS: list[Function[JobContext]] = [
    fan_out_notifications,
    notice_coins_received,
    send_daily_digests,
    sweep_fanouts,
]
CRON_JOBS: list[CronJob[JobContext]] = [
    CronJob(send_daily_digests, cron="0 7 * * *", timeout=1800, retries=2),
    CronJob(sweep_fanouts, cron="* * * * *", timeout=60, retries=1),
]
