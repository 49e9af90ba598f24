"""The fan-out job: a large group's notifications and emails inserted batch by batch, resumable, never twice."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import String, case, cast, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from coins.lib.jobs import make_job
from coins.mail.models import EmailMessage
from coins.notifications import live
from coins.notifications.audiences import Audience, recipients_query
from coins.notifications.catalog import EventType, event_type
from coins.notifications.emails import COINS, email_row, personal
from coins.notifications.models import Notification, NotificationFanout

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from coins.notifications.notify import Notifier

logger = logging.getLogger("coins.notifications")

# Above this many recipients the request records one fan-out row and a job does the rest.
FANOUT_THRESHOLD = 200
FANOUT_BATCH = 500
# A fan-out job touches its heartbeat after every batch; SAQ retries it when the worker died.
FANOUT_HEARTBEAT = 60
EMAILED_FOR_MODE = {"immediate": "pending", "digest": "digest", "never": "none"}


def fanout_job(fanout_id: int, *, key: str | None = None) -> Any:
    job = make_job("fan_out_notifications", key=key, fanout_id=fanout_id)
    job.heartbeat = FANOUT_HEARTBEAT
    return job


@dataclass
class FanoutProgress:
    batches: int = 0
    notified: int = 0
    emails: int = 0
    done: bool = False
    message_ids: list[UUID] = field(default_factory=list)


async def run_fanout(
    session: AsyncSession,
    notifier: Notifier,
    fanout_id: int,
    *,
    batch_size: int = FANOUT_BATCH,
    after_batch: Callable[[], Awaitable[Any]] | None = None,
) -> FanoutProgress:
    """Insert a fan-out's notifications and emails batch by batch until every recipient has theirs.

    Each batch is one transaction: lock the fan-out row (a second job for the same fan-out waits, then
    continues from the cursor), INSERT ... SELECT the next `batch_size` recipients after the cursor with
    ON CONFLICT DO NOTHING, record emails for the rows actually inserted, move the cursor, commit.
    Delivery jobs and live updates for a batch go out after its commit.  Killed at any point, the job
    resumes where the last commit left it and nobody gets anything twice.
    """
    progress = FanoutProgress()
    while True:
        fanout = (
            await session.execute(
                select(NotificationFanout)
                .where(NotificationFanout.id == fanout_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if fanout is None or fanout.status == "done":
            await session.rollback()
            progress.done = True
            return progress
        kind = event_type(fanout.event)
        batch = await _fanout_batch(session, notifier, fanout, kind, batch_size)
        inserted = [row for row in batch if row.id is not None]
        emails = [
            email_row(
                notifier,
                event=kind,
                template=fanout.template,
                user_id=row.user_id,
                email=row.email,
                name=row.full_name,
                title=personal(fanout.title, row.coins)[:300],
                body=personal(fanout.body, row.coins),
                link=fanout.link,
                coins=row.coins,
                context=fanout.context,
            )
            for row in inserted
            if row.emailed == "pending"
        ]
        if emails:
            await session.execute(pg_insert(EmailMessage), emails)
            by_user = {row.user_id: row.id for row in inserted}
            await session.execute(
                text(
                    "UPDATE notifications n SET email_message_id = v.message_id "
                    "FROM unnest(CAST(:ids AS bigint[]), CAST(:messages AS uuid[])) AS v(id, message_id) "
                    "WHERE n.id = v.id"
                ),
                {"ids": [by_user[e["user_id"]] for e in emails], "messages": [e["id"] for e in emails]},
            )
        done = len(batch) < batch_size
        now = datetime.now(UTC)
        await session.execute(
            update(NotificationFanout)
            .where(NotificationFanout.id == fanout_id)
            .values(
                cursor=batch[-1].user_id if batch else fanout.cursor,
                notified=NotificationFanout.notified + len(inserted),
                emails=NotificationFanout.emails + len(emails),
                batches=NotificationFanout.batches + 1,
                status="done" if done else "running",
                started_at=func.coalesce(NotificationFanout.started_at, now),
                finished_at=now if done else None,
                updated_at=now,
            )
        )
        await session.commit()
        progress.batches += 1
        progress.notified += len(inserted)
        progress.emails += len(emails)
        message_ids = [e["id"] for e in emails]
        progress.message_ids.extend(message_ids)
        try:
            await notifier.mailer.enqueue_deliveries(message_ids)
        except Exception as exc:  # the sweeper re-enqueues pending emails
            logger.warning("fan-out %s: delivery jobs not enqueued (%s)", fanout_id, exc)
        await live.publish(notifier.valkey, [row.user_id for row in inserted if row.in_app])
        if after_batch is not None:
            await after_batch()
        if done:
            progress.done = True
            logger.info("fan-out %s done: %s notifications", fanout_id, progress.notified)
            return progress


async def _fanout_batch(
    session: AsyncSession, notifier: Notifier, fanout: NotificationFanout, kind: EventType, size: int
) -> list[Any]:
    """One INSERT ... SELECT: the next recipients after the cursor, and which of them got a new row."""
    audience = Audience.from_json(fanout.audience)
    batch = recipients_query(audience, kind, after=fanout.cursor, limit=size).cte("batch")
    wanted = batch.c.in_app | (batch.c.email_mode != "never")
    coins_text = cast(batch.c.coins, String)
    inserted = (
        pg_insert(Notification)
        .from_select(
            [
                "user_id",
                "event",
                "campaign_id",
                "idea_id",
                "actor_id",
                "title",
                "body",
                "link",
                "in_app",
                "emailed",
                "dedupe_key",
                "data",
            ],
            select(
                batch.c.user_id,
                literal(kind.key),
                literal(fanout.campaign_id, type_=Notification.campaign_id.type),
                literal(fanout.idea_id, type_=Notification.idea_id.type),
                literal(fanout.actor_id, type_=Notification.actor_id.type),
                func.left(func.replace(literal(fanout.title), COINS, coins_text), 300),
                func.replace(literal(fanout.body), COINS, coins_text),
                literal(fanout.link),
                batch.c.in_app,
                case(
                    (batch.c.email_mode == "immediate", "pending"),
                    (batch.c.email_mode == "digest", "digest"),
                    else_="none",
                ),
                literal(f"fanout:{fanout.id}"),
                case(
                    (batch.c.coins > 0, func.jsonb_build_object("coins", batch.c.coins)),
                    else_=text("'{}'::jsonb"),
                ),
            ).where(wanted),
        )
        .on_conflict_do_nothing(constraint="uq_notifications_user_dedupe")
        .returning(Notification.id, Notification.user_id, Notification.emailed, Notification.in_app)
        .cte("inserted")
    )
    rows = await session.execute(
        select(
            batch.c.user_id,
            batch.c.coins,
            batch.c.email,
            batch.c.full_name,
            inserted.c.id,
            inserted.c.emailed,
            func.coalesce(inserted.c.in_app, False).label("in_app"),
        )
        .select_from(batch.outerjoin(inserted, inserted.c.user_id == batch.c.user_id))
        .order_by(batch.c.user_id)
    )
    return list(rows)
