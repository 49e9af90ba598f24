"""The viewer's coins as pages show them: the balance in every campaign page's header, and the allocation
control of each idea on the board and the idea page.

Provided as the `standing` dependency: the campaign and idea pages know it only by their own protocols
(`coins.campaigns.page.Standing`, `coins.ideas.stakes.Stakes`), so they need not import this domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.access import CampaignAccess, CampaignNotFound
from coins.coins import ledger
from coins.coins.models import CoinBalance
from coins.coins.services.reading import CoinReader
from coins.ideas.models import Idea


def allocation_control(access: CampaignAccess, idea: Idea, my_coins: int) -> dict[str, Any]:
    """Everything the allocation control of one idea shows."""
    pricing = ledger.Policy.of(access.campaign).pricing
    votes = ledger.votes_for(my_coins, pricing)
    return {
        "idea": idea,
        "campaign": access.campaign,
        "access": access,
        "my_coins": my_coins,
        "my_votes": votes,
        "next_vote_cost": ledger.cost_of_votes(votes + 1, pricing) - my_coins,
        "can_allocate": ledger.can_allocate(
            is_member=access.is_member, campaign_status=access.campaign.status, idea_status=idea.status
        ),
    }


class CoinStanding:
    def __init__(self, session: AsyncSession) -> None:
        self.db = session
        self.reader = CoinReader(session)

    async def balance(self, *, campaign_id: UUID, user_id: UUID) -> CoinBalance:
        return await self.reader.balance(campaign_id=campaign_id, user_id=user_id)

    async def controls(self, access: CampaignAccess, ideas: Sequence[Idea]) -> dict[int, dict[str, Any]]:
        """The allocation control of each idea of a page, with one query for the viewer's coins on them all."""
        viewer = access.viewer
        mine: dict[int, int] = {}
        if viewer is not None and access.is_member and ideas:
            mine = await self.reader.mine_on(user_id=viewer.id, idea_ids=[idea.id for idea in ideas])
        return {idea.id: allocation_control(access, idea, mine.get(idea.id, 0)) for idea in ideas}

    async def control(self, access: CampaignAccess, idea_id: int) -> dict[str, Any]:
        """One idea's control (CAMPAIGN_001 when the idea is not in the campaign)."""
        idea = await self.db.get(Idea, idea_id)
        if idea is None or idea.campaign_id != access.campaign.id:
            raise CampaignNotFound("No such idea in this campaign.")
        return (await self.controls(access, [idea]))[idea.id]
