"""The SAQ worker: every domain's tasks and cron jobs, listed explicitly.

Tasks take ids, never objects, and find what they need in the job context (`coins.worker_context`) built by
`startup` from the same parts as the web app (`coins.wiring`): settings, a database config, the mailer,
Valkey, and the event bus with every listener connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from saq import CronJob, Worker
from saq.types import Function

from coins.campaigns import tasks as campaign_tasks
from coins.lib import telemetry
from coins.lib.requestid import bind_request_id
from coins.mail import tasks as mail_tasks
from coins.notifications import tasks as notification_tasks
from coins.platforms import tasks as platform_tasks
from coins.search import tasks as search_tasks
from coins.wiring import Runtime, build_runtime, tracing_options
from coins.worker_context import JobContext

if TYPE_CHECKING:
    from saq.queue import Queue

    from coins.settings import Settings

logger = logging.getLogger("coins.worker")

Context = JobContext
FUNCTIONS: list[Function[Any]] = [
    *mail_tasks.FUNCTIONS,
    *campaign_tasks.FUNCTIONS,
    *search_tasks.FUNCTIONS,
    *notification_tasks.FUNCTIONS,
    *platform_tasks.FUNCTIONS,
]
CRON_JOBS: list[CronJob[Any]] = [
    *mail_tasks.CRON_JOBS,
    *campaign_tasks.CRON_JOBS,
    *search_tasks.CRON_JOBS,
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
    settings: Settings, queue: Queue, *, shared: Runtime | None = None, handle_signals: bool = True
) -> Worker[Context]:
    """A worker on `queue`; pass the web app's parts (`shared`) to use its pools and listeners in-process.

    In-process the web server owns SIGINT/SIGTERM (`handle_signals=False`) and stops the worker from the
    application's shutdown; standalone, the worker handles them itself.
    """

    telemetry.configure_tracing(tracing_options(settings))
    built: list[Runtime] = []  # the worker's own parts (standalone), closed at shutdown

    async def startup(ctx: Context) -> None:
        runtime = shared or build_runtime(settings, queue=queue)
        if shared is None:
            built.append(runtime)
            runtime.links.prepare()
        ctx["settings"] = settings
        ctx["db"] = runtime.db
        ctx["owns_db"] = shared is None
        ctx["templates"] = runtime.templates
        ctx["queue"] = queue
        ctx["valkey"] = runtime.valkey
        ctx["mailer"] = runtime.mailer
        ctx["events"] = runtime.events

    async def shutdown(ctx: Context) -> None:
        search = cast("dict[str, Any]", ctx).get("search")  # the search tasks' client, made on first use
        if search is not None:
            await search.close()
        while built:
            await built.pop().close()
        if not shared:
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
