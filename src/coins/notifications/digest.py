"""The daily digest: one email per user with everything they chose to hear about "in the daily digest".

The cron job runs every morning (07:00 UTC).  Users are claimed in batches with
`INSERT INTO digest_runs (user_id, day) ... ON CONFLICT DO NOTHING RETURNING user_id`, so each user gets
exactly one digest a day however many workers run the job at once; a transaction-scoped advisory lock per
user lets concurrent workers pick disjoint batches instead of waiting on each other's claims.  The claim,
the email and the notifications' new state commit together: a worker dying halfway leaves its batch
unclaimed for the next run.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import String, cast, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from coins.accounts.models import User
from coins.notifications.catalog import DIGEST, EVENTS
from coins.notifications.emails import unsubscribe_headers, unsubscribe_url
from coins.notifications.models import DigestRun, Notification, NotificationPreference
from coins.notifications.notify import Notifier

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger("coins.notifications.digest")

USERS_PER_BATCH = 200
# Items listed in one digest email; the rest are counted and linked.
ITEMS_SHOWN = 50


async def send_digests(
    session: AsyncSession,
    notifier: Notifier,
    *,
    now: datetime | None = None,
    batch_size: int = USERS_PER_BATCH,
) -> int:
    """Send today's digests; returns how many this call sent (the rest went out from other workers)."""
    now = now or datetime.now(UTC)
    day = now.date()
    sent = 0
    while True:
        waiting = (
            select(Notification.user_id)
            .where(
                Notification.emailed == "digest",
                Notification.created_at <= now,
                ~exists().where(DigestRun.user_id == Notification.user_id, DigestRun.day == day),
            )
            .group_by(Notification.user_id)
            .subquery()
        )
        # Users another worker is doing right now are skipped (their advisory lock is held until its commit),
        # so several workers share the work instead of queueing behind each other's claims.
        lock_key = func.hashtextextended(
            func.concat("digest:", cast(waiting.c.user_id, String), ":", day.isoformat()), 0
        )
        candidates = list(
            await session.scalars(
                select(waiting.c.user_id)
                .where(func.pg_try_advisory_xact_lock(lock_key))
                .order_by(waiting.c.user_id)
                .limit(batch_size)
            )
        )
        if not candidates:
            await session.rollback()
            return sent
        claimed = list(
            await session.scalars(
                pg_insert(DigestRun)
                .values([{"user_id": user_id, "day": day} for user_id in candidates])
                .on_conflict_do_nothing(constraint="pk_digest_runs")
                .returning(DigestRun.user_id)
            )
        )
        message_ids = []
        for user_id in claimed:
            message_id = await _digest_for(session, notifier, user_id, day, now)
            if message_id is not None:
                message_ids.append(message_id)
        await session.commit()
        sent += len(message_ids)
        await notifier.mailer.enqueue_deliveries(message_ids)


async def _digest_for(
    session: AsyncSession, notifier: Notifier, user_id: UUID, day: date, now: datetime
) -> UUID | None:
    user = await session.get(User, user_id)
    rows = list(
        await session.scalars(
            select(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.emailed == "digest",
                Notification.created_at <= now,
            )
            .order_by(Notification.created_at, Notification.id)
            .with_for_update()
        )
    )
    # Honour a change of mind since the notification was recorded: email switched off means no digest.
    turned_off = set(
        await session.scalars(
            select(NotificationPreference.event).where(
                NotificationPreference.user_id == user_id, NotificationPreference.email_mode == "never"
            )
        )
    )
    items = [n for n in rows if n.event not in turned_off]
    dropped = [n.id for n in rows if n.event in turned_off]
    if dropped:
        await session.execute(update(Notification).where(Notification.id.in_(dropped)).values(emailed="suppressed"))
    if user is None or not user.is_active or not items:
        return None
    url = unsubscribe_url(notifier, user_id, DIGEST)
    links = notifier.links
    context: dict[str, Any] = {
        "name": user.full_name,
        "day": day.isoformat(),
        "count": len(items),
        "more": max(0, len(items) - ITEMS_SHOWN),
        "items": [
            {
                "title": n.title,
                "body": n.body,
                "label": EVENTS[n.event].label if n.event in EVENTS else n.event,
                "link_url": links.absolute(n.link),
                "when": n.created_at.strftime("%Y-%m-%d %H:%M"),
            }
            for n in items[:ITEMS_SHOWN]
        ],
        "centre_url": links.url("notifications"),
        "unsubscribe_url": url,
        "preferences_url": links.url("notifications.preferences"),
    }
    message = notifier.mailer.send(
        session,
        to=user.email,
        user_id=user_id,
        template="digest",
        context=context,
        headers=unsubscribe_headers(url),
        enqueue_delivery=False,
    )
    await session.flush()
    await session.execute(
        update(Notification)
        .where(Notification.id.in_([n.id for n in items]))
        .values(emailed="sent", email_message_id=message.id)
    )
    await session.execute(
        update(DigestRun)
        .where(DigestRun.user_id == user_id, DigestRun.day == day)
        .values(email_message_id=message.id, notifications=len(items))
    )
    return message.id


async def digest_pending(session: AsyncSession) -> int:
    """How many notifications wait for a digest (for the admin section and tests)."""
    return int(await session.scalar(text("SELECT count(*) FROM notifications WHERE emailed = 'digest'")) or 0)
