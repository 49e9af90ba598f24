"""Coins received by an idea: flagged on the hot path after commit, counted and told by a coalescing job."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from coins.campaigns.models import Campaign
from coins.coins.models import LedgerEntry
from coins.ideas.models import Idea
from coins.lib.jobs import make_job
from coins.notifications import live
from coins.notifications.audiences import Audience, recipients_query
from coins.notifications.catalog import event_type
from coins.notifications.emails import record_email
from coins.notifications.fanout import EMAILED_FOR_MODE
from coins.notifications.models import IdeaCoinNotice, Notification
from coins.notifications.notify import Notifier
from coins.notifications.triggers.links import quoted

if TYPE_CHECKING:
    from saq.queue import Queue
    from sqlalchemy.ext.asyncio import AsyncSession
    from valkey.asyncio import Valkey

    from coins.lib.links import Links

logger = logging.getLogger("coins.notifications")

# A burst of allocations within this many seconds makes one update of the author's notification.
COINS_RECEIVED_DELAY = 5
# At most one "coins received" email per idea in this period; later coins wait for the next one.
COINS_EMAIL_INTERVAL = timedelta(hours=1)
_FLAG_TTL = 300


def _flag(idea_id: int) -> str:
    return f"coins_received:pending:{idea_id}"


class RaisedHere:
    """Until when, per idea, this process knows a coins-received job is still to run (wall-clock seconds).

    The flag's value is the pending job's scheduled time.  Until shortly before it, the flag is certainly
    still up (the job clears it when it starts) and the job will see every allocation committed by then, so
    asking Valkey again would only hear "already raised": a burst of allocations costs one round trip per
    process and job, not one per allocation.  One per app.
    """

    # Clocks of replicas and the worker may disagree a little; stop trusting the flag this long before.
    MARGIN_SECONDS = 1.0
    MAX_IDEAS = 10_000

    def __init__(self) -> None:
        self._until: dict[int, float] = {}

    def is_fresh(self, idea_id: int, now: float) -> bool:
        return now < self._until.get(idea_id, 0.0)

    def remember(self, idea_id: int, job_scheduled_at: float, now: float) -> None:
        until = job_scheduled_at - self.MARGIN_SECONDS
        if until <= now:
            return
        if len(self._until) >= self.MAX_IDEAS:
            self._until = {i: t for i, t in self._until.items() if t > now}
        self._until[idea_id] = until


def _scheduled_at(flag_value: bytes | str | None) -> float | None:
    try:
        return float(flag_value) if flag_value is not None else None
    except ValueError:
        return None


async def notify_coins_received(
    valkey: Valkey, queue: Queue, *, idea_id: int, raised_here: RaisedHere | None = None
) -> None:
    """After an allocation to `idea_id` has committed: make sure one job will look at the idea soon.

    At most one Valkey round trip on the hot path (none while a known job is still to come, see
    `RaisedHere`): the flag is raised with the job's scheduled time, and the first allocation of a burst
    also enqueues that job (delayed by COINS_RECEIVED_DELAY so the burst arrives together).  The job clears
    the flag before it reads the ledger, so an allocation committed after that read raises the flag again
    and gets its own job.  Failures are logged, never raised: the allocation has happened either way.
    """
    now = time.time()
    if raised_here is not None and raised_here.is_fresh(idea_id, now):
        return
    try:
        scheduled = int(now) + COINS_RECEIVED_DELAY
        previous = await valkey.set(_flag(idea_id), str(scheduled), nx=True, ex=_FLAG_TTL, get=True)
        if previous is None:  # raised by us: schedule its job
            job = make_job("notice_coins_received", idea_id=idea_id)
            job.scheduled = scheduled
            await queue.enqueue(job)
            known: float | None = scheduled
        else:
            known = _scheduled_at(previous)
        if raised_here is not None and known is not None:
            raised_here.remember(idea_id, known, now)
    except Exception as exc:
        logger.warning("coins received for idea %s not scheduled: %s", idea_id, exc)


async def clear_coins_received_flag(valkey: Valkey, idea_id: int) -> None:
    await valkey.delete(_flag(idea_id))


_RECEIVED = (LedgerEntry.kind == "allocate") | ((LedgerEntry.kind == "move") & (LedgerEntry.reason == "reallocation"))


async def process_coins_received(
    session: AsyncSession, notifier: Notifier, idea_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """Count the coins that reached the idea since the last look and tell its author (the job's work).

    One unread notification per idea is updated in place (its count grows) until the author reads it.
    Email: at most one per idea per COINS_EMAIL_INTERVAL; coins arriving inside the interval are emailed
    by a follow-up job at its end (nothing is lost, nothing is emailed per allocation).  The idea's row in
    `idea_coin_notices` is locked for the whole transaction, so two jobs for one idea take turns.
    """
    now = now or datetime.now(UTC)
    await session.execute(pg_insert(IdeaCoinNotice).values(idea_id=idea_id).on_conflict_do_nothing())
    state = (
        await session.execute(
            select(IdeaCoinNotice)
            .where(IdeaCoinNotice.idea_id == idea_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    idea = await session.get(Idea, idea_id, populate_existing=True)
    if state is None or idea is None or idea.author_id is None:
        await session.rollback()
        return {"status": "no author"}
    arrived = (
        await session.execute(
            select(
                func.coalesce(func.sum(LedgerEntry.amount), 0).label("coins"),
                func.count(func.distinct(LedgerEntry.user_id)).label("supporters"),
                func.max(LedgerEntry.id).label("last_id"),
            ).where(
                LedgerEntry.idea_id == idea_id,
                LedgerEntry.id > state.last_ledger_id,
                LedgerEntry.user_id != idea.author_id,
                _RECEIVED,
            )
        )
    ).one()
    if arrived.last_id is not None:
        state.last_ledger_id = arrived.last_id
    author = (
        await session.execute(
            recipients_query(Audience("users", users=(idea.author_id,)), event_type("coins_received"))
        )
    ).first()
    campaign = await session.get_one(Campaign, idea.campaign_id)
    notification = None
    if author is not None and (author.in_app or author.email_mode != "never"):
        notification = await _count_in(session, notifier.links, state, idea, campaign, author, arrived, now)
    outcome = "counted" if arrived.coins else "nothing new"
    message_ids: list[UUID] = []
    follow_up_at: datetime | None = None
    if author is not None and notification is not None and state.unemailed_coins > 0:
        outcome, message_ids, follow_up_at = _email_decision(
            session, notifier, state, idea, campaign, author, notification, now
        ) or (outcome, [], None)
    state.updated_at = now
    await session.commit()

    await notifier.mailer.enqueue_deliveries(message_ids)
    if arrived.coins and author is not None and author.in_app:
        await live.publish(notifier.valkey, [author.user_id])
    if follow_up_at is not None and notifier.queue is not None:
        job = make_job("notice_coins_received", key=f"coins_received:follow-up:{idea_id}", idea_id=idea_id)
        job.scheduled = int(follow_up_at.timestamp()) + 1
        await notifier.queue.enqueue(job)
    return {"status": outcome, "coins": int(arrived.coins)}


async def _count_in(
    session: AsyncSession,
    links: Links,
    state: IdeaCoinNotice,
    idea: Idea,
    campaign: Campaign,
    author: Any,
    arrived: Any,
    now: datetime,
) -> Notification | None:
    """The author's unread "coins received" notification for the idea, grown by what just arrived."""
    notification = (
        await session.get(Notification, state.notification_id, populate_existing=True)
        if state.notification_id is not None
        else None
    )
    if notification is not None and (notification.read_at is not None or notification.user_id != author.user_id):
        notification = None  # read (or the idea changed hands): the next coins start a new one
    if not arrived.coins:
        return notification
    if notification is None:
        notification = Notification(
            user_id=author.user_id,
            event="coins_received",
            campaign_id=campaign.id,
            idea_id=idea.id,
            link=links.path("idea.link", idea_id=idea.id),
            in_app=author.in_app,
            emailed="none",
            data={},
            title="",
        )
        session.add(notification)
    data = dict(notification.data or {})
    data["coins"] = int(data.get("coins", 0)) + int(arrived.coins)
    data["supporters"] = int(data.get("supporters", 0)) + int(arrived.supporters)
    notification.data = data
    notification.title = f"{data['coins']} coins for {quoted(idea.title)}"[:300]
    backers = f" from {data['supporters']} members" if data["supporters"] > 1 else ""
    notification.body = (
        f"Members put {data['coins']} coins on your idea{backers}; it now has {idea.coins} coins in "
        f"{quoted(campaign.title)}."
    )
    notification.created_at = now
    state.unemailed_coins += int(arrived.coins)
    await session.flush()
    state.notification_id = notification.id
    return notification


def _email_decision(
    session: AsyncSession,
    notifier: Notifier,
    state: IdeaCoinNotice,
    idea: Idea,
    campaign: Campaign,
    author: Any,
    notification: Notification,
    now: datetime,
) -> tuple[str, list[UUID], datetime | None] | None:
    """Email now (at most once an interval), later (a follow-up job), in the digest, or not at all."""
    if author.email_mode != "immediate":
        notification.emailed = EMAILED_FOR_MODE[author.email_mode]
        state.unemailed_coins = 0
        return None
    if state.emailed_at is not None and state.emailed_at > now - COINS_EMAIL_INTERVAL:
        notification.emailed = "suppressed"
        return "email later", [], state.emailed_at + COINS_EMAIL_INTERVAL
    kind = event_type("coins_received")
    message = record_email(
        session,
        notifier,
        event=kind,
        template=kind.key,
        user_id=author.user_id,
        email=author.email,
        name=author.full_name,
        title=f"{state.unemailed_coins} coins for {quoted(idea.title)}",
        body=notification.body,
        link=notification.link,
        coins=state.unemailed_coins,
        context={"campaign_title": campaign.title, "idea_title": idea.title, "idea_coins": idea.coins},
    )
    notification.email_message_id = message.id
    notification.emailed = "pending"
    state.emailed_at = now
    state.unemailed_coins = 0
    return "emailed", [message.id], None
