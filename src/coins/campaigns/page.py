"""What every campaign page shows around its content: the header with the viewer's role and coins, the tabs.

Pages of several domains (campaigns, ideas, coins, analytics, platforms) render inside it.  The viewer's coins
come from the coins domain through `Standing`, provided by dependency injection (`standing`), so the campaign
domain does not depend on the coins domain that depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from coins.campaigns.access import CampaignAccess
from coins.campaigns.models import CAMPAIGN_TYPES, PRICING, TAG_KINDS
from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.services.tags import CampaignTags

CHOICES: dict[str, Any] = {"campaign_types": CAMPAIGN_TYPES, "pricings": PRICING, "tag_kinds": TAG_KINDS}


@runtime_checkable
class Standing(Protocol):
    """A member's coins in a campaign (granted, available, allocated, expended)."""

    async def balance(self, *, campaign_id: UUID, user_id: UUID) -> Any: ...


async def campaign_context(access: CampaignAccess, reader: CampaignReader, standing: Standing) -> dict[str, Any]:
    viewer = access.viewer
    balance = None
    if viewer is not None and access.is_member:
        balance = await standing.balance(campaign_id=access.campaign.id, user_id=viewer.id)
    return {
        "campaign": access.campaign,
        "access": access,
        "balance": balance,
        "member_count": await reader.member_count(access.campaign.id),
        **CHOICES,
    }


@dataclass(frozen=True)
class CampaignPageParts:
    """What a page inside a campaign reads besides its own content: the campaign, its tags, the viewer's coins."""

    reader: CampaignReader
    tags: CampaignTags
    standing: Standing

    async def around(self, access: CampaignAccess) -> dict[str, Any]:
        return await campaign_context(access, self.reader, self.standing)
