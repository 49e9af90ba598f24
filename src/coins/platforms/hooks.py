"""Where idea events meet platforms: the idea's platform link, webhook events queued with the change.

`coins.platforms.listeners` calls `on_idea_event` inside the transaction of every idea change.  For an idea
submitted through a permalink (its `origin` is the permalink's `Attribution`) it records the idea as the
platform's (`platform_ideas`, read by the context API) and queues `idea.submitted`; for status changes of
such ideas it queues `idea.status_changed`.  `check_coin_thresholds` (a one-minute cron job) queues
`idea.coins_threshold`.  Queued means a `webhook_deliveries` row now and a `deliver_webhook` job after the
commit (see `coins.platforms.webhooks`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from uuid_utils.compat import uuid7

from coins.campaigns.models import Campaign
from coins.ideas.models import Idea
from coins.lib.db import commit
from coins.lib.jobs import enqueue_after_commit
from coins.lib.links import Links
from coins.platforms.models import (
    Platform,
    PlatformIdea,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookThresholdCrossing,
)

if TYPE_CHECKING:
    from saq.queue import Queue

    from coins.ideas.events import IdeaEvent

# Idea events (coins.ideas.events) that change an idea's status.
STATUS_EVENTS = frozenset({"approved", "rejected", "accepted", "started", "completed", "withdrawn", "merged"})


def idea_url(links: Links, idea_id: int) -> str:
    return links.url("idea.link", idea_id=idea_id)


# Payloads ---------------------------------------------------------------------------------------------------


async def idea_data(session: AsyncSession, idea: Idea, links: Links, *, status: str | None = None) -> dict[str, Any]:
    slug = await session.scalar(select(Campaign.slug).where(Campaign.id == idea.campaign_id))
    return {
        "id": idea.id,
        "title": idea.title,
        "status": status or idea.status,
        "coins": idea.coins,
        "supporters": idea.supporters,
        "context_id": idea.context_id,
        "campaign": slug,
        "url": idea_url(links, idea.id),
    }


def _body(delivery_id: UUID, event: str, platform_id: UUID, data: dict[str, Any]) -> str:
    return json.dumps(
        {
            "id": str(delivery_id),
            "type": event,
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "platform_id": str(platform_id),
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


async def queue_event(
    session: AsyncSession,
    *,
    platform_id: UUID,
    event: str,
    data: dict[str, Any],
    idea_id: int | None = None,
    endpoint_ids: Sequence[UUID] | None = None,
    queue: Queue | None,
) -> list[WebhookDelivery]:
    """One delivery per enabled endpoint of the platform that wants `event` (or per endpoint given),
    written in the caller's transaction and sent once it commits."""
    query = (
        select(WebhookEndpoint.id)
        .join(Platform, Platform.id == WebhookEndpoint.platform_id)
        .where(
            WebhookEndpoint.platform_id == platform_id,
            WebhookEndpoint.disabled_at.is_(None),
            Platform.revoked_at.is_(None),
        )
    )
    if endpoint_ids is not None:
        query = query.where(WebhookEndpoint.id.in_(list(endpoint_ids)))
    else:
        query = query.where(WebhookEndpoint.events.contains([event]))
    targets = list(await session.scalars(query.order_by(WebhookEndpoint.id)))
    if not targets:
        return []
    deliveries = []
    for endpoint_id in targets:
        delivery_id = UUID(str(uuid7()))
        delivery = WebhookDelivery(
            id=delivery_id,
            endpoint_id=endpoint_id,
            event=event,
            idea_id=idea_id,
            payload=_body(delivery_id, event, platform_id, data),
            status="pending",
            attempts=0,
        )
        session.add(delivery)
        deliveries.append(delivery)
        # Without a queue the row waits for `sweep_webhooks`.
        enqueue_after_commit(
            session, queue, "deliver_webhook", key=f"webhook:{delivery_id}", delivery_id=str(delivery_id)
        )
    return deliveries


# The idea events -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribution:
    """The origin of an idea submitted through a permalink (`IdeaSubmission.submit(origin=...)`)."""

    permalink_id: UUID
    platform_id: UUID | None
    context_id: str


async def on_idea_event(
    session: AsyncSession, event: IdeaEvent, *, links: Links, queue: Queue | None, attribution: object | None
) -> None:
    """In the transaction of the change.  Costs nothing for ideas that did not come through a permalink: a
    submission looks at its origin, a status change reads one primary key."""
    event_name, idea, details, before = event.name, event.idea, event.details, event.before
    platform_id: UUID | None
    extra: dict[str, Any] = {}
    if event_name == "submitted":
        if not isinstance(attribution, Attribution):
            return
        session.add(
            PlatformIdea(
                idea_id=idea.id,
                platform_id=attribution.platform_id,
                permalink_id=attribution.permalink_id,
                context_id=attribution.context_id,
            )
        )
        platform_id, webhook_event = attribution.platform_id, "idea.submitted"
    elif event_name in STATUS_EVENTS:
        platform_id = await session.scalar(select(PlatformIdea.platform_id).where(PlatformIdea.idea_id == idea.id))
        webhook_event = "idea.status_changed"
        extra = {
            "previous_status": (before or {}).get("status"),
            "reason": details.get("reason", ""),
            "merged_into": details.get("merged_into"),
        }
    else:
        return
    if platform_id is None:
        return  # not a platform's idea, or a manager's permalink without a platform
    data = {"idea": await idea_data(session, idea, links, status=details.get("status")), **extra}
    await queue_event(session, platform_id=platform_id, event=webhook_event, data=data, idea_id=idea.id, queue=queue)


async def check_coin_thresholds(session: AsyncSession, *, queue: Queue | None, links: Links, limit: int = 500) -> int:
    """Send `idea.coins_threshold` for platform ideas that reached an endpoint's threshold (once each).

    Run every minute by the worker: a join over the platforms' own ideas only, so its cost does not grow
    with the rest of the system, and the coin operations' hot path stays untouched.
    """
    rows = (
        await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.platform_id, WebhookEndpoint.coins_threshold, Idea.id)
            .join(Platform, Platform.id == WebhookEndpoint.platform_id)
            .join(PlatformIdea, PlatformIdea.platform_id == WebhookEndpoint.platform_id)
            .join(Idea, Idea.id == PlatformIdea.idea_id)
            .where(
                WebhookEndpoint.disabled_at.is_(None),
                Platform.revoked_at.is_(None),
                WebhookEndpoint.events.contains(["idea.coins_threshold"]),
                WebhookEndpoint.coins_threshold.is_not(None),
                Idea.coins >= WebhookEndpoint.coins_threshold,
                ~exists().where(
                    WebhookThresholdCrossing.endpoint_id == WebhookEndpoint.id,
                    WebhookThresholdCrossing.idea_id == Idea.id,
                ),
            )
            .limit(limit)
        )
    ).all()
    sent = 0
    for endpoint_id, platform_id, threshold, idea_id in rows:
        idea = await session.scalar(select(Idea).options(defer(Idea.search_vector)).where(Idea.id == idea_id))
        if idea is None:
            continue
        claimed = await session.scalar(
            pg_insert(WebhookThresholdCrossing)
            .values(endpoint_id=endpoint_id, idea_id=idea_id, coins=idea.coins)
            .on_conflict_do_nothing()
            .returning(WebhookThresholdCrossing.idea_id)
        )
        if claimed is None:
            continue  # another run got there first
        data = {"idea": await idea_data(session, idea, links), "threshold": threshold}
        await queue_event(
            session,
            platform_id=platform_id,
            event="idea.coins_threshold",
            data=data,
            idea_id=idea_id,
            endpoint_ids=[endpoint_id],
            queue=queue,
        )
        sent += 1
    await commit(session)
    return sent
