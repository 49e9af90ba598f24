"""Search backends: PostgreSQL always, OpenSearch when OPENSEARCH_URL is set (see `coins.search.base`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx

from coins.search.base import SearchBackend
from coins.search.postgres import PostgresSearch

if TYPE_CHECKING:
    from opensearchpy import AsyncOpenSearch
    from sqlalchemy.ext.asyncio import AsyncSession

    from coins.settings import OpenSearchSettings

__all__ = ["SearchBackend", "SearchClient", "make_backend", "opensearch_ready_check"]

CHECK_TIMEOUT = 2.0


class SearchClient:
    """The process's one OpenSearch client: made on first use (inside the event loop), closed at shutdown.

    Holds nothing when OpenSearch is not configured, so PostgreSQL search is used.
    """

    def __init__(self, settings: OpenSearchSettings) -> None:
        self.settings = settings
        self._client: AsyncOpenSearch | None = None

    @property
    def configured(self) -> bool:
        return bool(self.settings.url)

    def get(self) -> AsyncOpenSearch | None:
        if not self.configured:
            return None
        if self._client is None:
            from coins.search.opensearch import make_client

            self._client = make_client(self.settings)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()


def make_backend(session: AsyncSession, client: SearchClient | None, *, refresh: bool = False) -> SearchBackend:
    """OpenSearch when configured, else PostgreSQL; either way reading ideas through `session`."""
    opensearch = client.get() if client is not None else None
    if opensearch is None or client is None:
        return PostgresSearch(session)
    from coins.search.opensearch import OpenSearchSearch, alias_name

    return OpenSearchSearch(opensearch, index=alias_name(client.settings), session=session, refresh=refresh)


def opensearch_ready_check(settings: OpenSearchSettings) -> Callable[[], Awaitable[None]]:
    """/ready's check of the cluster: it answers, and its status is not red."""

    async def check() -> None:
        auth = (settings.username, settings.password) if settings.username else None
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT, auth=auth, verify=True) as client:
            response = await client.get(settings.url.rstrip("/") + "/_cluster/health")
            response.raise_for_status()
            if response.json().get("status") == "red":
                raise RuntimeError("cluster status is red")

    return check
