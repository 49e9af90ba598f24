"""Campaign news: started, ends within 48 hours, ended; invitations; being made a manager."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.models import User
from coins.campaigns.models import Campaign
from coins.notifications.audiences import Audience
from coins.notifications.notify import Notified, Notifier, notify
from coins.notifications.triggers.links import quoted

CAMPAIGN_EVENTS = ("campaign_activated", "campaign_ending", "campaign_completed")


async def notify_campaign_event(
    session: AsyncSession,
    notifier: Notifier,
    event: str,
    campaign: Campaign,
    *,
    actor_id: UUID | None = None,
) -> Notified:
    """Tell the campaign's members (managers included) that it started, ends soon, or ended."""
    if event not in CAMPAIGN_EVENTS:
        raise ValueError(f"not a campaign event: {event!r}")
    name = quoted(campaign.title)
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
        notifier,
        event=event,
        recipients=Audience("campaign_members", campaign_id=campaign.id),
        campaign_id=campaign.id,
        title=title,
        body=body,
        link=notifier.links.path("campaign", slug=campaign.slug),
        context={"campaign_title": campaign.title, "campaign_slug": campaign.slug, "ends_at": ends},
        actor_id=actor_id,
    )


async def notify_invitation(
    session: AsyncSession,
    notifier: Notifier,
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
        notifier,
        event="invitation",
        recipients=[user_id],
        campaign_id=campaign.id,
        title=f"{inviter} invites you to {quoted(campaign.title)}{as_manager}",
        body=f"The invitation link works once, until {expires_at.strftime('%Y-%m-%d %H:%M')} UTC.",
        link=accept_url.removeprefix(notifier.links.public_url),
        template="invitation",
        context={
            "campaign": campaign,
            "inviter": inviter,
            "role": role,
            "accept_url": accept_url,
            "expires_at": expires_at,
        },
    )
    return True


async def notify_manager_assigned(
    session: AsyncSession, notifier: Notifier, *, user_id: UUID, campaign: Campaign, actor_id: UUID, actor: str
) -> None:
    """An existing account made manager of a campaign (an invitation of sorts: same event type)."""
    user = await session.get_one(User, user_id)
    await notify(
        session,
        notifier,
        event="invitation",
        recipients=[user_id],
        campaign_id=campaign.id,
        title=f"You are now a manager of {quoted(campaign.title)}",
        body=f"{actor} made you a manager of this campaign.",
        link=notifier.links.path("campaign", slug=campaign.slug),
        template="campaign_manager",
        context={"name": user.full_name, "campaign": campaign, "actor": actor},
        actor_id=actor_id,
    )
