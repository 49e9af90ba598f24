"""Scheduled campaign events. Each is a conditional UPDATE, so several workers running it is harmless."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from saq import CronJob

from coins.campaigns.services.lifecycle import CampaignLifecycle
from coins.lib.db import standalone_session

if TYPE_CHECKING:
    from saq.types import Function

    from coins.worker_context import JobContext

logger = logging.getLogger("coins.campaigns.tasks")


async def complete_due_campaigns(ctx: JobContext) -> int:
    async with standalone_session(ctx["db"]) as session:
        completed = await CampaignLifecycle(session, ctx["events"]).complete_due()
    if completed:
        logger.info("completed at their end date: %s", ", ".join(completed))
    return len(completed)


async def send_campaign_ending_notices(ctx: JobContext) -> int:
    async with standalone_session(ctx["db"]) as session:
        sent = await CampaignLifecycle(session, ctx["events"]).send_ending_notices()
    if sent:
        logger.info("sent %s 'ends in 48 hours' notices", sent)
    return sent


FUNCTIONS: list[Function[JobContext]] = [complete_due_campaigns, send_campaign_ending_notices]
CRON_JOBS: list[CronJob[JobContext]] = [
    CronJob(complete_due_campaigns, cron="* * * * *", timeout=120, retries=1),
    CronJob(send_campaign_ending_notices, cron="*/5 * * * *", timeout=300, retries=1),
]
