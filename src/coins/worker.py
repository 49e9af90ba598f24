"""The SAQ queue and worker: every domain's tasks and cron jobs, listed explicitly.

Tasks take ids, never objects, and find what they need in the worker context built by `startup`:
settings, a database config with its own pool, the template environment and the mailer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from saq import CronJob, Worker
from saq.queue.redis import RedisQueue
from saq.types import Context as SaqContext
from saq.types import Function

from coins.campaigns.tasks import complete_due_campaigns, send_campaign_ending_notices
from coins.lib import telemetry
from coins.lib.db import make_sqlalchemy_config, standalone_session
from coins.lib.requestid import bind_request_id
from coins.lib.templating import make_jinja_env
from coins.lib.valkey import make_valkey
from coins.notifications import mail
from coins.notifications import tasks as notification_tasks
from coins.notifications.mail import Mailer
from coins.notifications.services import Notifier, bind_notifier
from coins.platforms import tasks as platform_tasks
from coins.search import SearchClient
from coins.search.tasks import index_idea, sync_search_coins

if TYPE_CHECKING:
    from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
    from jinja2 import Environment
    from saq.queue import Queue
    from valkey.asyncio import Valkey

    from coins.settings import Settings

logger = logging.getLogger("coins.worker")


class Context(SaqContext, total=False):
    """What every task finds in its context (built once per worker by `startup`)."""

    settings: Settings
    db: SQLAlchemyAsyncConfig
    templates: Environment
    owns_db: bool
    valkey: Valkey
    # The OpenSearch client (holds nothing when search runs in PostgreSQL).
    search: SearchClient


def make_queue(settings: Settings) -> Queue:
    return RedisQueue.from_url(settings.saq_url, name=settings.worker.queue_name)


async def deliver_email(ctx: Context, *, message_id: str) -> str:
    async with standalone_session(ctx["db"]) as session:
        return await mail.deliver(session, ctx["settings"], UUID(message_id))


async def sweep_emails(ctx: Context) -> int:
    """Re-enqueue emails whose delivery job was lost; harmless when run twice (delivery claims rows)."""
    if not ctx["settings"].smtp.host:
        return 0
    async with standalone_session(ctx["db"]) as session:
        return await mail.requeue_stalled(session, ctx["queue"], older_than=timedelta(minutes=5))


FUNCTIONS: list[Function[Context]] = [
    deliver_email,
    sweep_emails,
    complete_due_campaigns,
    send_campaign_ending_notices,
    index_idea,
    sync_search_coins,
    *notification_tasks.FUNCTIONS,
    *platform_tasks.FUNCTIONS,
]
CRON_JOBS: list[CronJob[Context]] = [
    CronJob(sweep_emails, cron="*/5 * * * *", timeout=120, retries=1),
    CronJob(complete_due_campaigns, cron="* * * * *", timeout=120, retries=1),
    CronJob(send_campaign_ending_notices, cron="*/5 * * * *", timeout=300, retries=1),
    CronJob(sync_search_coins, cron="* * * * *", timeout=120, retries=1),
    *notification_tasks.CRON_JOBS,
    *platform_tasks.CRON_JOBS,
]


class CoinsWorker(Worker[Context]):
    """SAQ's worker with a prompt shutdown.

    SAQ's upkeep loops sleep up to a minute between rounds, and `stop()` waits for them, so an idle
    worker took the whole grace period to stop.  Here the loops wait on the stop event instead of
    sleeping, and an idle dequeue returns every second: stopping is immediate when idle and still waits
    for running jobs (up to the grace period) when busy.
    """

    async def upkeep(self) -> list[asyncio.Task[None]]:
        async def every(action: Callable[[int], Awaitable[Any]], period: int, argument: int | None = None) -> None:
            while not self.event.is_set():
                try:
                    await action(argument or period)
                except (Exception, asyncio.CancelledError):
                    if self.event.is_set():
                        return
                    logger.exception("worker upkeep step failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.event.wait(), timeout=period)

        timers = self.timers
        return [
            asyncio.create_task(every(self.abort, timers["abort"])),
            asyncio.create_task(every(self.schedule, timers["schedule"])),
            asyncio.create_task(every(self.queue.sweep, timers["sweep"])),
            asyncio.create_task(every(self.worker_info, timers["worker_info"], timers["worker_info"] + 1)),
        ]


def make_worker(
    settings: Settings, queue: Queue, *, shared_db: Any = None, handle_signals: bool = True
) -> Worker[Context]:
    """A worker on `queue`; pass the web app's database config to share its pool when in-process.

    In-process the web server owns SIGINT/SIGTERM (`handle_signals=False`) and stops the worker from the
    application's shutdown; standalone, the worker handles them itself.
    """

    telemetry.configure_tracing(settings)

    async def startup(ctx: Context) -> None:
        ctx["settings"] = settings
        ctx["db"] = shared_db or make_sqlalchemy_config(settings)
        ctx["templates"] = make_jinja_env(settings)
        ctx["queue"] = queue
        ctx["owns_db"] = shared_db is None
        ctx["search"] = SearchClient(settings.opensearch)
        ctx["valkey"] = make_valkey(settings)
        if shared_db is None:  # in-process, the web app's config carries the web app's notifier
            bind_notifier(ctx["db"], Notifier(Mailer(settings, ctx["templates"], queue), ctx["valkey"]))

    async def shutdown(ctx: Context) -> None:
        if ctx.get("valkey") is not None:
            await ctx["valkey"].aclose()
        if ctx.get("search") is not None:
            await ctx["search"].close()
        if ctx.get("owns_db") and ctx.get("db") is not None:
            await ctx["db"].get_engine().dispose()
        if not shared_db:
            await telemetry.shutdown_tracing()  # in-process, the web app does it at its shutdown

    async def before_process(ctx: Context) -> None:
        job = ctx.get("job")
        bind_request_id(f"job-{job.id}" if job is not None else "job")
        telemetry.job_started(ctx)

    async def after_process(ctx: Context) -> None:
        telemetry.job_finished(ctx)  # a span per job (when tracing) and the job metrics

    worker = CoinsWorker(
        queue,
        functions=FUNCTIONS,
        cron_jobs=CRON_JOBS,
        concurrency=settings.worker.concurrency,
        startup=startup,
        shutdown=shutdown,
        before_process=before_process,
        after_process=after_process,
        shutdown_grace_period_s=20,
        dequeue_timeout=1.0,
    )
    if not handle_signals:
        worker.SIGNALS = []
    return worker
