"""Scheduled campaign events. Each is a conditional UPDATE, so several workers running it is harmless."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from coins.campaigns.services import CampaignService
from coins.lib.db import standalone_session
from coins.notifications.mail import Mailer

if TYPE_CHECKING:
    from coins.worker import Context

logger = logging.getLogger("coins.campaigns.tasks")


def _service(ctx: Context, session: object) -> CampaignService:
    return CampaignService(session, Mailer(ctx["settings"], ctx["templates"], ctx.get("queue")))  # type: ignore[arg-type]


async def complete_due_campaigns(ctx: Context) -> int:
    async with standalone_session(ctx["db"]) as session:
        completed = await _service(ctx, session).complete_due()
    if completed:
        logger.info("completed at their end date: %s", ", ".join(completed))
    return len(completed)


async def send_campaign_ending_notices(ctx: Context) -> int:
    async with standalone_session(ctx["db"]) as session:
        sent = await _service(ctx, session).send_ending_notices()
    if sent:
        logger.info("sent %s 'ends in 48 hours' notices", sent)
    return sent
