"""What the idea pages need besides their forms: the services they read from, and the viewer's stakes.

The viewer's coins on each idea (the allocation controls on the board and the idea page) and their balance
come from the coins domain, known here only by the `Stakes` protocol and provided as the `standing`
dependency, so the ideas domain does not depend on the coins domain that settles ideas' coins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from coins.campaigns.access import CampaignAccess
from coins.campaigns.page import Standing, campaign_context
from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.services.tags import CampaignTags
from coins.ideas.models import Idea
from coins.ideas.services.board import IdeaBoard
from coins.ideas.services.reading import IdeaReader


@runtime_checkable
class Stakes(Standing, Protocol):
    async def controls(self, access: CampaignAccess, ideas: Sequence[Idea]) -> dict[int, dict[str, Any]]:
        """The allocation control of each idea (the viewer's coins and votes on it, what the next vote costs)."""
        ...

    async def control(self, access: CampaignAccess, idea_id: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class IdeaPageParts:
    reader: IdeaReader
    board: IdeaBoard
    campaigns: CampaignReader
    tags: CampaignTags
    stakes: Stakes

    async def around(self, access: CampaignAccess) -> dict[str, Any]:
        """The campaign page around an idea page's content (header, role, coins, tabs)."""
        return await campaign_context(access, self.campaigns, self.stakes)
