"""What the ideas domain needs of a search backend (the port): similar titles while someone types, and pages
of idea ids for the board.  The search package implements it (PostgreSQL always, OpenSearch when configured);
the app's wiring gives each request's idea services the configured one (`IdeaSearchFactory`).

Backends answer with idea ids (and scores); the idea services read the rows themselves from PostgreSQL, so
what a page shows (coins, status, tags) is never older than the database, whatever an index holds.  Scores
are between 0 (nothing alike) and 1 (the same title).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

Sort = Literal["coins", "supporters", "newest", "trending"]
SORTS: tuple[Sort, ...] = ("coins", "supporters", "newest", "trending")
# The score from which an idea is shown as "similar" while someone types a title (tuned with the scoring
# weights in `coins.search.base`, on tests/support/similar_titles.py).
SIMILAR_THRESHOLD = 0.43


@dataclass(frozen=True)
class IdeaFilters:
    """Which ideas of a campaign a search may return.

    `statuses` are visible to the viewer whoever wrote the idea; `own_statuses` only when `author_id`
    wrote it (pending and rejected ideas are private to their authors and the campaign's managers).
    """

    statuses: tuple[str, ...]
    own_statuses: tuple[str, ...] = ()
    author_id: UUID | None = None
    tag_ids: tuple[UUID, ...] = ()
    min_coins: int | None = None
    max_coins: int | None = None
    context_id: str | None = None


@dataclass(frozen=True)
class SearchPage:
    ids: list[int]
    total: int


@dataclass(frozen=True)
class SimilarHit:
    idea_id: int
    score: float
    trigram: float = 0.0
    word: float = 0.0
    text: float = 0.0


class IdeaSearch(Protocol):
    """See the module docstring for the contract."""

    async def similar(
        self, campaign_id: UUID, title: str, filters: IdeaFilters, *, limit: int, min_score: float
    ) -> list[SimilarHit]:
        """Ideas whose title resembles `title`, best first, with score >= `min_score`."""
        ...

    async def search_ids(
        self,
        campaign_id: UUID,
        text: str | None,
        filters: IdeaFilters,
        sort: Sort,
        limit: int,
        offset: int,
    ) -> SearchPage:
        """One page of matching idea ids in `sort` order, and how many match in all."""
        ...


IdeaSearchFactory = Callable[[AsyncSession], IdeaSearch]
