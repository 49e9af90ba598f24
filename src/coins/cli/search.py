"""The search index (OpenSearch, when OPENSEARCH_URL is set)."""

from __future__ import annotations

import asyncio
import sys

import click

from coins.cli.common import settings_or_exit
from coins.settings import Settings


@click.group()
def search() -> None:
    """The search index (OpenSearch, when OPENSEARCH_URL is set)."""


@search.command("reindex")
@click.option("--campaign", "slug", default=None, help="Only this campaign's ideas (by slug).")
@click.option(
    "--recreate",
    is_flag=True,
    help="Build a fresh index beside the live one and switch to it (all campaigns).",
)
def search_reindex(slug: str | None, recreate: bool) -> None:
    """Write every idea from PostgreSQL into the search index."""
    from sqlalchemy import select

    from coins.campaigns.models import Campaign
    from coins.lib.db import standalone_session
    from coins.search import SearchClient
    from coins.search.opensearch import OpenSearchSearch, alias_name
    from coins.wiring import database_config

    if recreate and slug:
        click.secho("--recreate rebuilds the whole index: leave out --campaign.", fg="red", err=True)
        sys.exit(2)

    async def run(settings: Settings) -> int:
        client = SearchClient(settings.opensearch)
        opensearch = client.get()
        assert opensearch is not None
        config = database_config(settings)
        try:
            async with standalone_session(config) as session:
                backend = OpenSearchSearch(opensearch, index=alias_name(settings.opensearch), session=session)
                if recreate:
                    return await backend.rebuild()
                campaign_id = None
                if slug:
                    campaign_id = await session.scalar(select(Campaign.id).where(Campaign.slug == slug))
                    if campaign_id is None:
                        click.secho(f"No campaign {slug!r}.", fg="red", err=True)
                        sys.exit(1)
                return await backend.reindex(campaign_id)
        finally:
            await client.close()
            await config.get_engine().dispose()

    settings = settings_or_exit()
    if not settings.opensearch.url:
        click.echo(
            "OPENSEARCH_URL is not set: search runs in PostgreSQL, whose search columns are generated and "
            "always current. Nothing to reindex."
        )
        return
    if not settings.database.url:
        click.secho("coins search reindex needs DATABASE_URL.", fg="red", err=True)
        sys.exit(2)
    count = asyncio.run(run(settings))
    click.echo(f"Indexed {count} ideas into {alias_name(settings.opensearch)}.")
