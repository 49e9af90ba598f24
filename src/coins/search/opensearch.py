"""Search in OpenSearch (when OPENSEARCH_URL is set), through opensearch-py's AsyncOpenSearch.

The index is an alias (`<prefix>-ideas`) over a dated concrete index, so `coins search reindex
--recreate` can build a fresh index beside the live one and swap the alias in one step.  Documents are
written after the change committed (a SAQ job per change, `coins.search.tasks`) with external versions
(the moment the row was read), so a slow job can never overwrite a newer picture of an idea.

Similar titles: OpenSearch recalls candidates (title trigrams, title prefixes, and one named query per
title word, so each hit says which words it matched); the score is then computed exactly as for
PostgreSQL (`coins.search.base.combine`, with pg_trgm's functions from `coins.search.trigram`), so both
backends share one threshold.  Sorting by trending needs the coin ledger, which lives in PostgreSQL:
the idea service asks the PostgreSQL backend for that sort.

Request building and response reading are plain functions (`coins.search.opensearch_requests`); the contract
tests run against a real server when one is set.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from coins.ideas.search import IdeaFilters, SearchPage, SimilarHit, Sort
from coins.search.base import IdeaDocument
from coins.search.opensearch_requests import (
    BULK_BATCH,
    INDEX_BODY,
    UnsupportedSort,
    build_bulk,
    build_search,
    build_similar,
    read_bulk,
    read_search,
    read_similar,
)
from coins.search.postgres import PostgresSearch

if TYPE_CHECKING:
    from opensearchpy import AsyncOpenSearch
    from sqlalchemy.ext.asyncio import AsyncSession

    from coins.settings import OpenSearchSettings

logger = logging.getLogger("coins.search.opensearch")


def make_client(settings: OpenSearchSettings) -> AsyncOpenSearch:
    from opensearchpy import AsyncOpenSearch

    auth = (settings.username, settings.password) if settings.username else None
    return AsyncOpenSearch(
        hosts=[settings.url],
        http_auth=auth,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        retry_on_timeout=True,
    )


def alias_name(settings: OpenSearchSettings) -> str:
    return f"{settings.index_prefix}-ideas"


# Building requests --------------------------------------------------------------------------------------


class IndexingFailed(RuntimeError):
    pass


class OpenSearchSearch:
    name = "opensearch"
    needs_indexing = True

    def __init__(
        self,
        client: AsyncOpenSearch,
        *,
        index: str,
        session: AsyncSession | None = None,
        refresh: bool = False,
    ) -> None:
        self.client = client
        self.alias = index
        self.db = session
        # Tests ask every write to be searchable before it returns; production lets OpenSearch refresh.
        self.refresh = refresh

    async def similar(
        self, campaign_id: UUID, title: str, filters: IdeaFilters, *, limit: int, min_score: float
    ) -> list[SimilarHit]:
        title = " ".join(title.split())
        if not title:
            return []
        body = build_similar(campaign_id, title, filters, candidates=max(limit * 5, 50))
        response = await self.client.search(index=self.alias, body=body)
        hits = [hit for hit in read_similar(response, title) if hit.score >= min_score]
        hits.sort(key=lambda hit: (-hit.score, hit.idea_id))
        return hits[:limit]

    async def search_ids(
        self,
        campaign_id: UUID,
        text: str | None,
        filters: IdeaFilters,
        sort: Sort,
        limit: int,
        offset: int,
    ) -> SearchPage:
        if sort == "trending":
            # Trending ranks by the coin ledger, which only PostgreSQL holds.
            if self.db is None:
                raise UnsupportedSort("sorting by trending reads PostgreSQL: give the backend a session")
            return await PostgresSearch(self.db).search_ids(campaign_id, text, filters, sort, limit, offset)
        body = build_search(campaign_id, text, filters, sort, limit, offset)
        return read_search(await self.client.search(index=self.alias, body=body))

    async def index(self, document: IdeaDocument) -> None:
        await self.index_many([document])

    async def index_many(self, documents: Sequence[IdeaDocument]) -> int:
        if not documents:
            return 0
        params = {"refresh": "wait_for"} if self.refresh else {}
        response = await self.client.bulk(body=build_bulk(self.alias, documents), params=params)
        written, errors = read_bulk(response)
        if errors:
            raise IndexingFailed("; ".join(errors[:5]))
        return written

    async def delete(self, idea_id: int) -> None:
        params = {"refresh": "wait_for"} if self.refresh else {}
        await self.client.delete(index=self.alias, id=str(idea_id), params={**params, "ignore": 404})

    async def ensure_index(self) -> str:
        """Create the alias and its first index when missing; returns the alias."""
        if not await self.client.indices.exists_alias(name=self.alias):
            concrete = f"{self.alias}-{datetime.now(UTC):%Y%m%d%H%M%S}"
            await self.client.indices.create(index=concrete, body={**INDEX_BODY, "aliases": {self.alias: {}}})
        return self.alias

    async def reindex(self, campaign_id: UUID | None = None) -> int:
        """Write every idea (of one campaign, or all) from PostgreSQL into the live index."""
        await self.ensure_index()
        return await self._load_into(self.alias, campaign_id)

    async def rebuild(self) -> int:
        """Build a new index beside the live one, fill it, swap the alias, drop the old index."""
        concrete = f"{self.alias}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        await self.client.indices.create(index=concrete, body=INDEX_BODY)
        count = await self._load_into(concrete, None)
        await self.client.indices.refresh(index=concrete)
        old: list[str] = []
        if await self.client.indices.exists_alias(name=self.alias):
            old = list((await self.client.indices.get_alias(name=self.alias)).keys())
        actions: list[dict[str, Any]] = [{"remove": {"index": name, "alias": self.alias}} for name in old]
        actions.append({"add": {"index": concrete, "alias": self.alias}})
        await self.client.indices.update_aliases(body={"actions": actions})
        for name in old:
            await self.client.indices.delete(index=name, params={"ignore": 404})
        return count

    async def _load_into(self, index: str, campaign_id: UUID | None) -> int:
        from coins.search.documents import load_documents

        if self.db is None:
            raise RuntimeError("reindexing reads PostgreSQL: give the backend a session")
        count, after = 0, 0
        while True:
            documents = await load_documents(self.db, campaign_id=campaign_id, after_id=after, limit=BULK_BATCH)
            if not documents:
                return count
            params = {"refresh": "wait_for"} if self.refresh else {}
            response = await self.client.bulk(body=build_bulk(index, documents), params=params)
            written, errors = read_bulk(response)
            if errors:
                raise IndexingFailed("; ".join(errors[:5]))
            count += written
            after = documents[-1].id
