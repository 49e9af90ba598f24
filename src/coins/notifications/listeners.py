"""What other domains' events mean for the notification centre and email (connected by `coins.wiring`).

In-app rows and recorded emails are written in the transaction of the change; deliveries, fan-out jobs and
the bells' live counts go out after its commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.events import CampaignEnding, CampaignStatusChanged, InvitationSent, ManagerAssigned
from coins.coins.events import CoinsMoved
from coins.ideas.events import IdeaEvent
from coins.notifications.triggers.campaigns import notify_campaign_event, notify_invitation, notify_manager_assigned
from coins.notifications.triggers.coins_received import RaisedHere, notify_coins_received
from coins.notifications.triggers.ideas import notify_idea_event

if TYPE_CHECKING:
    from coins.lib.events import EventBus
    from coins.notifications.notify import Notifier

CAMPAIGN_NEWS = {"active": "campaign_activated", "completed": "campaign_completed"}


def connect(bus: EventBus, notifier: Notifier, *, raised_here: RaisedHere | None = None) -> None:
    async def idea_news(session: AsyncSession, event: IdeaEvent) -> None:
        await notify_idea_event(session, notifier, event.name, event.idea, event.actor_id, event.details)

    async def campaign_news(session: AsyncSession, event: CampaignStatusChanged) -> None:
        news = CAMPAIGN_NEWS.get(event.to_status)
        if news is not None:
            await notify_campaign_event(session, notifier, news, event.campaign, actor_id=event.actor_id)

    async def campaign_ending(session: AsyncSession, event: CampaignEnding) -> None:
        notified = await notify_campaign_event(session, notifier, "campaign_ending", event.campaign)
        event.note(told=notified.recipients)

    async def invitation(session: AsyncSession, event: InvitationSent) -> None:
        invitation = event.invitation
        assert invitation is not None
        assert event.expires_at is not None
        values: dict[str, Any] = {
            "campaign": event.campaign,
            "inviter": event.inviter_name,
            "role": invitation.role,
            "accept_url": event.accept_url,
            "expires_at": event.expires_at,
        }
        if await notify_invitation(
            session, notifier, email=invitation.email, campaign=event.campaign, inviter=event.inviter_name,
            role=invitation.role, accept_url=event.accept_url, expires_at=event.expires_at,
        ):  # fmt: skip
            return  # an account has this address: in-app, and by email as its owner prefers
        # Nobody whose preferences apply: the invitation goes to the address itself.
        notifier.mailer.send(session, to=invitation.email, template="invitation", context=values)

    async def manager_assigned(session: AsyncSession, event: ManagerAssigned) -> None:
        assert event.user_id is not None
        assert event.actor_id is not None
        await notify_manager_assigned(
            session, notifier, user_id=event.user_id, campaign=event.campaign, actor_id=event.actor_id,
            actor=event.actor_name,
        )  # fmt: skip

    async def coins_received(event: CoinsMoved) -> None:
        if event.receiving_idea_id is not None and notifier.valkey is not None and notifier.queue is not None:
            await notify_coins_received(
                notifier.valkey, notifier.queue, idea_id=event.receiving_idea_id, raised_here=raised_here
            )

    bus.subscribe(IdeaEvent, idea_news)
    bus.subscribe(CampaignStatusChanged, campaign_news)
    bus.subscribe(CampaignEnding, campaign_ending)
    bus.subscribe(InvitationSent, invitation)
    bus.subscribe(ManagerAssigned, manager_assigned)
    bus.on_committed(CoinsMoved, coins_received)
