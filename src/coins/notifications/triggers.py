"""What each domain event means for notifications: who hears, what they read, where the link goes.

The domains call these from inside the transaction of their change:

- campaigns: `notify_campaign_event` (activated, ending, completed), `notify_invitation`,
  `notify_manager_assigned` (from `CampaignService`);
- ideas: `notify_idea_event(session, event, idea, actor_id, details)` with the event names and details of
  `coins.ideas.events.record` (submitted, edited, approved, rejected, accepted, started, completed,
  withdrawn, merged); it also tells the author about reward coins in `details["reward"]`;
- coins: `notify_coins_received(valkey, queue, idea_id=...)` after an allocation has committed.  It only
  flags the idea and schedules one job; the job (`process_coins_received`) counts what arrived from the
  ledger, updates one unread notification per idea and emails the author at most once an hour.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from coins.accounts.models import User
from coins.campaigns.models import Campaign
from coins.coins.models import LedgerEntry
from coins.ideas.models import Idea
from coins.lib.jobs import make_job
from coins.notifications import live
from coins.notifications.catalog import event_type
from coins.notifications.mail import Mailer
from coins.notifications.models import IdeaCoinNotice, Notification
from coins.notifications.services import (
    EMAILED_FOR_MODE,
    Audience,
    Notified,
    Notifier,
    notifier_for,
    notify,
    recipients_query,
    record_email,
)

if TYPE_CHECKING:
    from saq.queue import Queue
    from sqlalchemy.ext.asyncio import AsyncSession
    from valkey.asyncio import Valkey

logger = logging.getLogger("coins.notifications")

# A burst of allocations within this many seconds makes one update of the author's notification.
COINS_RECEIVED_DELAY = 5
# At most one "coins received" email per idea in this period; later coins wait for the next one.
COINS_EMAIL_INTERVAL = timedelta(hours=1)
_FLAG_TTL = 300


def idea_path(idea_id: int) -> str:
    return f"/ideas/{idea_id}"


def campaign_path(slug: str) -> str:
    return f"/campaigns/{slug}"


def _quoted(title: str, limit: int = 120) -> str:
    return f"“{title if len(title) <= limit else title[: limit - 1] + '…'}”"


# Campaigns --------------------------------------------------------------------------------------------------

CAMPAIGN_EVENTS = ("campaign_activated", "campaign_ending", "campaign_completed")


async def notify_campaign_event(
    session: AsyncSession,
    event: str,
    campaign: Campaign,
    *,
    actor_id: UUID | None = None,
    mailer: Mailer | None = None,
) -> Notified:
    """Tell the campaign's members (managers included) that it started, ends soon, or ended."""
    if event not in CAMPAIGN_EVENTS:
        raise ValueError(f"not a campaign event: {event!r}")
    name = _quoted(campaign.title)
    ends = campaign.ends_at.strftime("%Y-%m-%d at %H:%M UTC")
    title, body = {
        "campaign_activated": (
            f"{name} has started",
            f"Ideas and coins are open until {ends}. Each member has {campaign.initial_allocation} coins "
            "to put on the ideas they want most.",
        ),
        "campaign_ending": (
            f"{name} ends in less than 48 hours",
            f"It ends on {ends}. Coins you have not spent by then stay unspent: put them on the ideas you want now.",
        ),
        "campaign_completed": (
            f"{name} has ended",
            "No more ideas or coins: see which ideas came out on top.",
        ),
    }[event]
    return await notify(
        session,
        event=event,
        recipients=Audience("campaign_members", campaign_id=campaign.id),
        campaign_id=campaign.id,
        title=title,
        body=body,
        link=campaign_path(campaign.slug),
        context={"campaign_title": campaign.title, "campaign_slug": campaign.slug, "ends_at": ends},
        actor_id=actor_id,
        mailer=mailer,
    )


async def notify_invitation(
    session: AsyncSession,
    mailer: Mailer,
    *,
    email: str,
    campaign: Campaign,
    inviter: str,
    role: str,
    accept_url: str,
    expires_at: datetime,
) -> bool:
    """An invitation to an address with an account: in-app and by email, as the user prefers.

    Returns False when no account has the address (the caller then emails the invitation directly: there
    is nobody whose preferences apply).
    """
    user_id = await session.scalar(select(User.id).where(User.email == email, User.is_active.is_(True)))
    if user_id is None:
        return False
    as_manager = " as a manager" if role == "manager" else ""
    await notify(
        session,
        event="invitation",
        recipients=[user_id],
        campaign_id=campaign.id,
        title=f"{inviter} invites you to {_quoted(campaign.title)}{as_manager}",
        body=f"The invitation link works once, until {expires_at.strftime('%Y-%m-%d %H:%M')} UTC.",
        link=accept_url.removeprefix(mailer.settings.public_url),
        template="invitation",
        context={
            "campaign": campaign,
            "inviter": inviter,
            "role": role,
            "accept_url": accept_url,
            "expires_at": expires_at,
        },
        mailer=mailer,
    )
    return True


async def notify_manager_assigned(
    session: AsyncSession, mailer: Mailer, *, user_id: UUID, campaign: Campaign, actor_id: UUID, actor: str
) -> None:
    """An existing account made manager of a campaign (an invitation of sorts: same event type)."""
    user = await session.get_one(User, user_id)
    await notify(
        session,
        event="invitation",
        recipients=[user_id],
        campaign_id=campaign.id,
        title=f"You are now a manager of {_quoted(campaign.title)}",
        body=f"{actor} made you a manager of this campaign.",
        link=campaign_path(campaign.slug),
        template="campaign_manager",
        context={"name": user.full_name, "campaign": campaign, "actor": actor},
        actor_id=actor_id,
        mailer=mailer,
    )


# Ideas ------------------------------------------------------------------------------------------------------

# Status events that the submitter and the idea's supporters hear about: (event type, title, body).
_STATUS_NEWS = {
    "approved": ("idea_approved", "{idea} is approved and competing for coins", ""),
    "accepted": ("idea_accepted", "{idea} was accepted", "It will be implemented."),
    "started": ("idea_started", "Work started on {idea}", ""),
    "completed": ("idea_completed", "{idea} is implemented", ""),
}


async def notify_idea_event(
    session: AsyncSession,
    event: str,
    idea: Idea,
    actor_id: UUID | None,
    details: dict[str, Any],
    *,
    mailer: Mailer | None = None,
) -> None:
    """The notifications of one idea event, as recorded by `coins.ideas.events.record`.

    Call it inside the transaction of the change, after the coins have moved (close_idea, move_on_merge):
    supporters of a closed or merged idea are read from the ledger entries that moved their coins.

    - submitted: the campaign's managers, when the idea waits for approval (mediated campaigns);
    - approved / accepted / started / completed: the submitter and everyone with coins on the idea;
    - rejected: the submitter, with the reason;
    - merged: the submitter and the supporters whose coins moved, linking to the idea it joined;
    - edited (title or description): the supporters;
    - accepted, withdrawn, rejected: each supporter also hears what happened to their own coins
      (coins_expended / coins_recycled, with their amount);
    - details["reward"] > 0 (submitted, approved): the submitter hears of the reward coins.
    The actor never hears about their own action (except of a reward they received).
    """
    campaign = await session.get_one(Campaign, idea.campaign_id)
    name = _quoted(idea.title)
    common: dict[str, Any] = {
        "campaign_id": campaign.id,
        "idea_id": idea.id,
        "actor_id": actor_id,
        "mailer": mailer,
        "link": idea_path(idea.id),
    }
    context = {"campaign_title": campaign.title, "idea_title": idea.title}
    author = (idea.author_id,) if idea.author_id is not None else ()

    if event == "submitted":
        if details.get("status") == "pending":
            author_name = await session.scalar(select(User.full_name).where(User.id == idea.author_id)) or "Someone"
            await notify(
                session,
                event="idea_submitted",
                recipients=Audience("campaign_managers", campaign_id=campaign.id),
                title=f"New idea to review in {_quoted(campaign.title)}: {name}",
                body=f"{author_name} submitted it; it waits for your approval.",
                context=context,
                **common,
            )
    elif event in _STATUS_NEWS:
        kind, title, body = _STATUS_NEWS[event]
        await notify(
            session,
            event=kind,
            recipients=Audience("idea_supporters", idea_id=idea.id, users=author),
            title=title.format(idea=name),
            body=body,
            context=context,
            **common,
        )
    elif event == "rejected":
        reason = str(details.get("reason") or "").strip()
        await notify(
            session,
            event="idea_rejected",
            recipients=Audience("users", users=author),
            title=f"{name} was not approved",
            body=f"Reason: {reason}" if reason else "",
            context={**context, "reason": reason},
            **common,
        )
    elif event == "merged":
        target_id = details.get("merged_into")
        target_title = await session.scalar(select(Idea.title).where(Idea.id == target_id)) if target_id else None
        into = _quoted(target_title) if target_title else "another idea"
        await notify(
            session,
            event="idea_merged",
            recipients=Audience("idea_merged", idea_id=idea.id, users=author),
            title=f"{name} was merged into {into}",
            body="Coins on it moved along with it: you now back the idea it joined.",
            context=context,
            **{**common, "link": idea_path(int(target_id)) if target_id else idea_path(idea.id)},
        )
    elif event == "edited":
        changed = [c for c in details.get("changed", []) if c in {"title", "description"}]
        if changed:
            await notify(
                session,
                event="idea_edited",
                recipients=Audience("idea_supporters", idea_id=idea.id),
                title=f"{name} was changed",
                body=f"Its {' and '.join(changed)} changed since you put coins on it.",
                context=context,
                **common,
            )

    settlement = details.get("settlement")
    if event in {"accepted", "withdrawn", "rejected"} and settlement:
        if settlement == "expend":
            kind, title, body = (
                "coins_expended",
                f"Your coins on {name} are spent: {{coins}}",
                "The idea was accepted: the coins you put on it are now expended for good.",
            )
        elif settlement == "recycle":
            kind, title, body = (
                "coins_recycled",
                f"Your coins on {name} are back: {{coins}}",
                f"The idea was {event}: the coins you put on it are available again.",
            )
        else:
            kind, title, body = (
                "coins_recycled",
                f"Your coins on {name} are forfeited: {{coins}}",
                f"The idea was {event}, and this campaign does not return coins: they count as spent.",
            )
        await notify(
            session,
            event=kind,
            recipients=Audience("idea_settled", idea_id=idea.id),
            title=title,
            body=body,
            context=context,
            **common,
        )

    reward = int(details.get("reward") or 0)
    if reward > 0 and idea.author_id is not None:
        await notify_reward(session, user_id=idea.author_id, amount=reward, campaign=campaign, idea=idea, mailer=mailer)


async def notify_reward(
    session: AsyncSession,
    *,
    user_id: UUID,
    amount: int,
    campaign: Campaign,
    idea: Idea | None = None,
    mailer: Mailer | None = None,
) -> None:
    """Balance changed by a reward: tell the member who got it."""
    what = f"for your idea {_quoted(idea.title)}" if idea is not None else "as a reward"
    await notify(
        session,
        event="coins_rewarded",
        recipients=[user_id],
        campaign_id=campaign.id,
        idea_id=idea.id if idea is not None else None,
        title=f"You received {amount} reward coins in {_quoted(campaign.title)}",
        body=f"They came {what} and are ready to put on ideas.",
        link=idea_path(idea.id) if idea is not None else campaign_path(campaign.slug),
        context={"campaign_title": campaign.title, "amount": amount},
        exclude_actor=False,
        mailer=mailer,
    )


# Coins received -----------------------------------------------------------------------------------------


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
        notification = await _count_in(session, state, idea, campaign, author, arrived, now)
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
            link=idea_path(idea.id),
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
    notification.title = f"{data['coins']} coins for {_quoted(idea.title)}"[:300]
    backers = f" from {data['supporters']} members" if data["supporters"] > 1 else ""
    notification.body = (
        f"Members put {data['coins']} coins on your idea{backers}; it now has {idea.coins} coins in "
        f"{_quoted(campaign.title)}."
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
        title=f"{state.unemailed_coins} coins for {_quoted(idea.title)}",
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


__all__ = [
    "COINS_RECEIVED_DELAY",
    "RaisedHere",
    "clear_coins_received_flag",
    "notifier_for",
    "notify_campaign_event",
    "notify_coins_received",
    "notify_idea_event",
    "notify_invitation",
    "notify_manager_assigned",
    "notify_reward",
    "process_coins_received",
]
