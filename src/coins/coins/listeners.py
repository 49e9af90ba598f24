"""What the coins domain does when other domains change things, inside their transactions.

- a campaign is activated: every member gets the initial allocation; a member joins a running campaign: they
  get theirs (`CoinGrants`, idempotent: nobody is granted twice);
- an idea starts competing (submitted in an open campaign, or approved): its author gets the campaign's
  reward;
- an idea leaves the competition: its coins are expended (accepted), returned or forfeited (withdrawn,
  rejected), or move with it (merged) (`CoinSettlement`); what happened is noted on the idea's event and its
  status-history row, for the listeners after this one (notifications, the audit trail) and the idea page;
- after a member's own operation committed: the campaign's boards re-rank.

These handlers are connected first (see `coins.wiring`), so later listeners see the coins already moved.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.events import CampaignStatusChanged, MemberAdded
from coins.campaigns.models import Campaign, CampaignMember
from coins.coins import ledger
from coins.coins.events import CoinsMoved
from coins.coins.services.grants import CoinGrants
from coins.coins.services.settlement import CoinSettlement
from coins.ideas.events import IdeaStatusChanged, IdeaSubmitted
from coins.ideas.models import Idea
from coins.lib import live

if TYPE_CHECKING:
    from valkey.asyncio import Valkey

    from coins.lib.events import EventBus

logger = logging.getLogger("coins.coins")


async def grant_on_activation(session: AsyncSession, event: CampaignStatusChanged) -> None:
    if event.to_status != "active":
        return
    campaign = event.campaign
    members = await session.scalars(
        select(CampaignMember.user_id).where(
            CampaignMember.campaign_id == campaign.id, CampaignMember.left_at.is_(None)
        )
    )
    granted = await CoinGrants(session).initial_allocation(
        campaign_id=campaign.id, user_ids=list(members), amount=campaign.initial_allocation, actor_id=event.actor_id
    )
    logger.info("campaign activated", extra={"campaign": campaign.slug, "granted": granted})


async def grant_on_joining(session: AsyncSession, event: MemberAdded) -> None:
    campaign = event.campaign
    if campaign.status == "active" and event.user_id is not None:
        await CoinGrants(session).initial_allocation(
            campaign_id=campaign.id, user_ids=[event.user_id], amount=campaign.initial_allocation,
            actor_id=event.actor_id,
        )  # fmt: skip


async def _reward_author(session: AsyncSession, campaign: Campaign, idea: Idea) -> int:
    """The campaign's reward for an idea that competes (at once, or on approval)."""
    amount = campaign.idea_submission_reward
    if idea.author_id is None or amount <= 0:
        return 0
    given = await CoinGrants(session).reward(
        campaign_id=campaign.id, user_id=idea.author_id, amount=amount, reason="idea submission", idea_id=idea.id
    )
    return amount if given else 0


async def reward_on_submission(session: AsyncSession, event: IdeaSubmitted) -> None:
    rewarded = 0
    if event.idea.status == "competing":
        campaign = await session.get_one(Campaign, event.idea.campaign_id)
        rewarded = await _reward_author(session, campaign, event.idea)
    event.note(reward=rewarded)


async def settle_on_status_change(session: AsyncSession, event: IdeaStatusChanged) -> None:
    outcome = ledger.coin_outcome(event.from_status, event.to_status)
    if outcome is None:
        return
    idea = event.idea
    campaign = await session.get_one(Campaign, idea.campaign_id)  # loaded by the status change already
    policy = ledger.Policy.of(campaign)
    if outcome == "approved":
        rewarded = await _reward_author(session, campaign, idea)
        if rewarded:
            event.note(reward=rewarded)
    elif outcome == "merged":
        assert event.merged_into is not None
        moved = await CoinSettlement(session).move_on_merge(
            campaign_id=campaign.id, policy=policy, source_id=idea.id, target_id=event.merged_into,
            actor_id=event.actor_id,
        )  # fmt: skip
        event.note(merged_into=event.merged_into, coins_moved=moved)
    else:
        kind, total = await CoinSettlement(session).close_idea(
            campaign_id=campaign.id, policy=policy, idea_id=idea.id, outcome=outcome, actor_id=event.actor_id
        )
        if total:
            event.note(coins=total, settlement=kind.value)


def connect(bus: EventBus, *, valkey: Valkey | None) -> None:
    bus.subscribe(CampaignStatusChanged, grant_on_activation)
    bus.subscribe(MemberAdded, grant_on_joining)
    bus.subscribe(IdeaSubmitted, reward_on_submission)
    bus.subscribe(IdeaStatusChanged, settle_on_status_change)

    async def rerank(event: CoinsMoved) -> None:
        live.campaign_changed(valkey, event.campaign_id)  # coalesced per process, no I/O here

    bus.on_committed(CoinsMoved, rerank)
