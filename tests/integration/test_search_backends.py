"""One contract, two search backends: the same assertions against PostgreSQL (always) and OpenSearch
(when OPENSEARCH_URL points at a server; none can run on the development machines, see TOOLCHAIN.md).

Ideas are written straight into PostgreSQL; the OpenSearch backend then indexes them from there, exactly
as `coins search reindex` does, and later changes go through `index` / `delete` as the indexing job does.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from coins.accounts.auth import CurrentUser
from coins.coins import listeners as coin_listeners
from coins.ideas.search import IdeaFilters
from coins.ideas.services.editing import IdeaEditing
from coins.ideas.services.reading import IdeaReader
from coins.ideas.services.submission import IdeaSubmission
from coins.ideas.services.workflow import IdeaWorkflow
from coins.ideas.shapes import IdeaChanges, IdeaInput
from coins.lib.events import EventBus
from coins.search import listeners as search_listeners
from coins.search.base import SearchBackend
from coins.search.documents import load_documents
from coins.search.postgres import PostgresSearch
from coins.search.trigram import similarity, word_similarity
from coins.settings import Settings, load_settings
from tests.support.factories import Actors, create_campaign
from tests.support.similar_titles import DUPLICATES, LOOK_ALIKES

NO_OPENSEARCH = "OPENSEARCH_URL is not set: no OpenSearch server can run on this machine (see TOOLCHAIN.md)"
PUBLIC = ("competing", "accepted", "in_progress", "complete")


@pytest.fixture(params=["postgresql", "opensearch"])
async def make_backend(
    request: pytest.FixtureRequest, db_engine: AsyncEngine
) -> AsyncIterator[Callable[[AsyncSession], SearchBackend]]:
    if request.param == "postgresql":
        yield PostgresSearch
        return
    if not os.environ.get("OPENSEARCH_URL"):
        pytest.skip(NO_OPENSEARCH)
    from coins.search import SearchClient
    from coins.search.opensearch import OpenSearchSearch

    settings = load_settings({"OPENSEARCH_URL": os.environ["OPENSEARCH_URL"], **_opensearch_auth()})
    client = SearchClient(settings.opensearch)
    opensearch = client.get()
    assert opensearch is not None
    alias = f"coins-test-{uuid.uuid4().hex[:12]}-ideas"
    try:
        yield lambda session: OpenSearchSearch(opensearch, index=alias, session=session, refresh=True)
    finally:
        await opensearch.indices.delete(index=f"{alias}-*", params={"ignore": 404})
        await client.close()


def _opensearch_auth() -> dict[str, str]:
    return {name: os.environ[name] for name in ("OPENSEARCH_USERNAME", "OPENSEARCH_PASSWORD") if name in os.environ}


class World:
    """Two campaigns of ideas written straight into the database."""

    def __init__(self, engine: AsyncEngine, campaign: UUID, other: UUID, author: UUID, tags: dict[str, UUID]) -> None:
        self.engine, self.campaign, self.other, self.author, self.tags = engine, campaign, other, author, tags
        self.ids: dict[str, int] = {}

    async def idea(
        self,
        key: str,
        title: str,
        *,
        status: str = "competing",
        coins: int = 0,
        supporters: int = 0,
        tags: tuple[str, ...] = (),
        age_days: int = 0,
        campaign: UUID | None = None,
        context_id: str | None = None,
        description: str = "Details to follow.",
    ) -> int:
        async with self.engine.begin() as conn:
            idea_id = (
                await conn.execute(
                    text(
                        "INSERT INTO ideas (campaign_id, author_id, title, description, description_html, status, "
                        "coins, supporters, created_at, context_id, merged_into_id) VALUES (:campaign, :author, "
                        ":title, :description, '', :status, :coins, :supporters, :created, :context, NULL) RETURNING id"
                    ),
                    {
                        "campaign": campaign or self.campaign,
                        "author": self.author,
                        "title": title,
                        "description": description,
                        "status": status,
                        "coins": coins,
                        "supporters": supporters,
                        "created": datetime.now(UTC) - timedelta(days=age_days),
                        "context": context_id,
                    },
                )
            ).scalar_one()
            for tag in tags:
                await conn.execute(
                    text("INSERT INTO idea_tags (idea_id, tag_id) VALUES (:idea, :tag)"),
                    {"idea": idea_id, "tag": self.tags[tag]},
                )
        self.ids[key] = int(idea_id)
        return int(idea_id)


@pytest.fixture
async def world(client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine) -> World:
    actors = await Actors(client, settings).setup()
    campaign = await create_campaign(client, actors.admin, slug="searched")
    other = await create_campaign(client, actors.admin, slug="elsewhere")
    tags = {}
    for name in ("Energy", "Transport"):
        created = await client.post("/api/campaigns/searched/tags", json={"name": name}, headers=actors.admin)
        tags[name] = UUID(created.json()["id"])
    me = (await client.get("/api/auth/me", headers=actors.admin)).json()
    data = World(db_engine, UUID(campaign["id"]), UUID(other["id"]), UUID(me["id"]), tags)
    await data.idea(
        "bikes",
        "More bike racks at the north entrance",
        coins=19,
        supporters=2,
        tags=("Transport",),
        age_days=5,
    )
    await data.idea("solar", "Solar panels on the roof", coins=30, supporters=1, tags=("Energy",), age_days=4)
    await data.idea(
        "ev",
        "EV chargers in the car park",
        coins=13,
        supporters=3,
        tags=("Energy", "Transport"),
        age_days=3,
        context_id="portal-1",
    )
    await data.idea("repair", "Bike repair workshop", coins=0, supporters=0, tags=("Transport",), age_days=2)
    await data.idea(
        "heat",
        "Heat pumps instead of gas boilers",
        status="accepted",
        coins=7,
        supporters=1,
        tags=("Energy",),
        age_days=1,
    )
    await data.idea("pending", "Bike racks for visitors", status="pending")
    await data.idea("withdrawn", "Bike racks by the north entrance", status="withdrawn")
    await data.idea("foreign", "More bike racks at the north entrance", coins=99, campaign=data.other)
    return data


async def test_the_contract(
    world: World, make_backend: Callable[[AsyncSession], SearchBackend], db_engine: AsyncEngine
) -> None:
    async with AsyncSession(db_engine) as session:
        backend = make_backend(session)
        await backend.reindex()
        ids, campaign = world.ids, world.campaign
        public = IdeaFilters(statuses=PUBLIC)

        async def page(
            text_query: str | None = None,
            sort: Any = "coins",
            limit: int = 50,
            offset: int = 0,
            **narrowing: Any,
        ) -> list[int]:
            filters = IdeaFilters(statuses=narrowing.pop("statuses", PUBLIC), **narrowing)
            found = await backend.search_ids(campaign, text_query, filters, sort, limit, offset)
            assert found.total >= len(found.ids)
            return found.ids

        # Sorting, and ties broken the same way.
        assert await page() == [ids["solar"], ids["bikes"], ids["ev"], ids["heat"], ids["repair"]]
        assert await page(sort="supporters") == [
            ids["ev"],
            ids["bikes"],
            ids["solar"],
            ids["heat"],
            ids["repair"],
        ]
        assert await page(sort="newest") == [
            ids["heat"],
            ids["repair"],
            ids["ev"],
            ids["solar"],
            ids["bikes"],
        ]
        # Filters: all of the tags, coin range, context, statuses; pending only for its author.
        assert await page(tag_ids=(world.tags["Energy"], world.tags["Transport"])) == [ids["ev"]]
        assert await page(min_coins=10, max_coins=19) == [ids["bikes"], ids["ev"]]
        assert await page(context_id="portal-1") == [ids["ev"]]
        assert await page(statuses=("accepted",)) == [ids["heat"]]
        assert await page(statuses=(), own_statuses=("pending",), author_id=world.author) == [ids["pending"]]
        assert await page(statuses=(), own_statuses=("pending",), author_id=uuid.uuid4()) == []
        # Text: words, exclusions, phrases, typos.
        assert await page("bike") == [ids["bikes"], ids["repair"]]
        assert await page("bike -repair") == [ids["bikes"]]
        assert await page('"car park"') == [ids["ev"]]
        assert await page("sollar") == [ids["solar"]]
        # Pages and totals.
        second = await backend.search_ids(campaign, None, public, "coins", 2, 2)
        assert (second.ids, second.total) == ([ids["ev"], ids["heat"]], 5)

        # Similar titles: best first, 0-1 scores, nothing from another campaign or outside the filters.
        hits = await backend.similar(campaign, "More bike racks at the north entrance", public, limit=5, min_score=0.3)
        assert hits[0].idea_id == ids["bikes"] and hits[0].score == 1.0
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert all(0 <= h.score <= 1 for h in hits)
        assert not {ids["foreign"], ids["withdrawn"], ids["pending"]} & {h.idea_id for h in hits}
        assert await backend.similar(campaign, "Quarterly budget review", public, limit=5, min_score=0.43) == []

        # A change reaches the index through `index`; a removed idea through `delete`.
        await session.execute(text("UPDATE ideas SET coins = 50 WHERE id = :id"), {"id": ids["repair"]})
        await session.execute(text("DELETE FROM ideas WHERE id = :id"), {"id": ids["solar"]})
        await session.commit()
        for document in await load_documents(session, idea_ids=[ids["repair"]]):
            await backend.index(document)
        await backend.delete(ids["solar"])
        assert await page() == [ids["repair"], ids["bikes"], ids["ev"], ids["heat"]]


async def test_scores_mean_the_same_on_both_backends(db_engine: AsyncEngine) -> None:
    """OpenSearch hits are scored with coins.search.trigram: it must agree with pg_trgm (ASCII titles)."""
    pairs = [*DUPLICATES, *LOOK_ALIKES, ("bicyc", "More bicycle racks"), ("aaa bbb", "aaa aaa bbb ccc aaa")]
    async with db_engine.connect() as conn:
        for a, b in [*pairs, *((b, a) for a, b in pairs)]:
            row = (
                await conn.execute(text("SELECT similarity(:a, :b), word_similarity(:a, :b)"), {"a": a, "b": b})
            ).one()
            assert similarity(a, b) == pytest.approx(row[0], abs=1e-6), (a, b)
            assert word_similarity(a, b) == pytest.approx(row[1], abs=1e-6), (a, b)


class _Queue:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.jobs: list[tuple[str, dict[str, Any], bool]] = []

    async def enqueue(self, job: Any) -> None:
        # Record whether the change was visible to another connection when the job was sent.
        self.jobs.append((job.function, dict(job.kwargs), not self.session.in_transaction()))


async def test_changes_are_indexed_after_commit_only(
    client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine
) -> None:
    actors = await Actors(client, settings).setup()
    await create_campaign(client, actors.admin, slug="indexed")
    await client.post("/api/campaigns/indexed/activate", headers=actors.admin)
    email, member = await actors.person("member")
    await client.post("/api/campaigns/indexed/join", headers=member)
    me = (await client.get("/api/auth/me", headers=member)).json()
    viewer = CurrentUser(
        id=UUID(me["id"]),
        email=email,
        full_name=me["full_name"],
        is_admin=False,
        is_sponsor=False,
        security_stamp=0,
        via="token",
    )
    async with AsyncSession(db_engine, expire_on_commit=False) as session:
        queue = _Queue(session)
        # The coins domain settles the withdrawn idea; the search listener sends the indexing jobs, as an
        # external index (OpenSearch) is configured.
        bus = EventBus()
        coin_listeners.connect(bus, valkey=None)
        search_listeners.connect(bus, queue=queue, indexing=True)  # type: ignore[arg-type]
        access = await IdeaReader(session).campaign_access("indexed", viewer)
        created = await IdeaSubmission(session, bus).submit(
            access, IdeaInput(title="Indexed idea", description="Text.")
        )
        editing, workflow = IdeaEditing(session, bus), IdeaWorkflow(session, bus)
        await editing.edit(created.idea.id, viewer, IdeaChanges(title="Indexed idea, edited"))
        await editing.edit(created.idea.id, viewer, IdeaChanges(title="Indexed idea, edited"))  # no change
        with pytest.raises(Exception, match="Only the campaign's managers"):
            await workflow.change_status(created.idea.id, viewer, "accepted")
        await workflow.change_status(created.idea.id, viewer, "withdrawn")
    idea_id = created.idea.id
    assert queue.jobs == [("index_idea", {"idea_id": idea_id}, True)] * 3


async def test_opensearch_rebuild_and_indexing_job(world: World, db_engine: AsyncEngine, settings: Settings) -> None:
    """`coins search reindex --recreate` swaps the alias to a fresh index; the job indexes one idea."""
    if not os.environ.get("OPENSEARCH_URL"):
        pytest.skip(NO_OPENSEARCH)
    from coins.search import SearchClient
    from coins.search.opensearch import OpenSearchSearch
    from coins.search.tasks import index_idea
    from coins.wiring import database_config

    prefix = f"coins-test-{uuid.uuid4().hex[:12]}"
    search_settings = load_settings(
        {
            "ENVIRONMENT": "test",
            "DATABASE_URL": settings.database.url,
            "REDIS_URL": settings.redis.url,
            "SECRET_KEY": "s" * 40,
            "JWT_SECRET_KEY": "j" * 40,
            "OPENSEARCH_URL": os.environ["OPENSEARCH_URL"],
            **_opensearch_auth(),
        },
        overrides={"opensearch": {"index_prefix": prefix}},
    )
    client = SearchClient(search_settings.opensearch)
    opensearch = client.get()
    assert opensearch is not None
    alias = f"{prefix}-ideas"
    config = database_config(search_settings)
    try:
        async with AsyncSession(db_engine) as session:
            backend = OpenSearchSearch(opensearch, index=alias, session=session, refresh=True)
            assert await backend.reindex() == 8
            first = set((await opensearch.indices.get_alias(name=alias)).keys())
            assert await backend.rebuild() == 8
            second = set((await opensearch.indices.get_alias(name=alias)).keys())
            assert first.isdisjoint(second) and len(second) == 1
            await session.execute(text("UPDATE ideas SET coins = 77 WHERE id = :id"), {"id": world.ids["repair"]})
            await session.commit()
            ctx: Any = {"settings": search_settings, "db": config, "search": client}
            assert await index_idea(ctx, idea_id=world.ids["repair"]) == "indexed"
            await opensearch.indices.refresh(index=alias)
            page = await backend.search_ids(world.campaign, None, IdeaFilters(statuses=PUBLIC), "coins", 1, 0)
            assert page.ids == [world.ids["repair"]]
    finally:
        await opensearch.indices.delete(index=f"{alias}-*", params={"ignore": 404})
        await client.close()
        await config.get_engine().dispose()
