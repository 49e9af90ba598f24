"""Keeping an OpenSearch index in step with PostgreSQL (nothing to do when search runs in PostgreSQL).

`index_idea` is enqueued after every committed change of an idea (`coins.search.listeners`).  Coins moved by
members (allocations live in the coins domain) reach the index through `sync_search_coins`, a cron job
that re-indexes the ideas with ledger entries in the last few minutes, so the coin counts OpenSearch
filters and sorts by lag by about a minute at most.  Every write carries the moment its row was read
as an external version: jobs finishing out of order never leave an older picture behind.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from saq import CronJob
from sqlalchemy import func, select, union

from coins.coins.models import LedgerEntry
from coins.lib.db import standalone_session
from coins.search import SearchClient
from coins.search.documents import load_documents
from coins.search.opensearch import OpenSearchSearch, alias_name
from coins.worker_context import JobContext

if TYPE_CHECKING:
    from saq.types import Function

logger = logging.getLogger("coins.search.tasks")

SYNC_WINDOW_MINUTES = 3


class Context(JobContext, total=False):
    # The process's OpenSearch client (holds nothing when search runs in PostgreSQL), made on first use.
    search: SearchClient


def _client(ctx: Context) -> SearchClient:
    client = ctx.get("search")
    if client is None:
        client = SearchClient(ctx["settings"].opensearch)
        ctx["search"] = client
    return client


async def index_idea(ctx: Context, *, idea_id: int) -> str:
    client = _client(ctx)
    opensearch = client.get()
    if opensearch is None:
        return "skipped: OpenSearch is not configured"
    async with standalone_session(ctx["db"]) as session:
        backend = OpenSearchSearch(opensearch, index=alias_name(client.settings), session=session)
        documents = await load_documents(session, idea_ids=[idea_id], limit=1)
        if not documents:
            await backend.delete(idea_id)
            return "deleted"
        await backend.ensure_index()
        await backend.index(documents[0])
    return "indexed"


async def sync_search_coins(ctx: Context) -> int:
    """Re-index ideas whose coins moved in the last few minutes (runs every minute; overlap is harmless)."""
    client = _client(ctx)
    opensearch = client.get()
    if opensearch is None:
        return 0
    since = func.now() - timedelta(minutes=SYNC_WINDOW_MINUTES)
    moved = union(
        select(LedgerEntry.idea_id).where(LedgerEntry.created_at >= since, LedgerEntry.idea_id.is_not(None)),
        select(LedgerEntry.from_idea_id).where(LedgerEntry.created_at >= since, LedgerEntry.from_idea_id.is_not(None)),
    )
    count = 0
    async with standalone_session(ctx["db"]) as session:
        idea_ids = [int(i) for i in await session.scalars(moved) if i is not None]
        backend = OpenSearchSearch(opensearch, index=alias_name(client.settings), session=session)
        for start in range(0, len(idea_ids), 500):
            batch = idea_ids[start : start + 500]
            count += await backend.index_many(await load_documents(session, idea_ids=batch, limit=len(batch)))
    if count:
        logger.info("re-indexed %s ideas whose coins moved", count)
    return count


FUNCTIONS: list[Function[Context]] = [index_idea, sync_search_coins]
CRON_JOBS: list[CronJob[Context]] = [CronJob(sync_search_coins, cron="* * * * *", timeout=120, retries=1)]
