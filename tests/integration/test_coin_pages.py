"""Coins in the browser: the allocation control (htmx and plain forms) and the "my coins" page."""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine
from valkey.asyncio import Valkey

from coins.settings import Settings
from tests.conftest import PASSWORD
from tests.support.coins import make_arena
from tests.support.factories import Actors
from tests.support.forms import csrf_token, log_in


@pytest.fixture
async def actors(client: AsyncTestClient[Litestar], settings: Settings) -> Actors:
    return await Actors(client, settings).setup()


async def test_allocate_with_htmx_updates_in_place(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine, valkey: Valkey
) -> None:
    arena = await make_arena(client, actors, db_engine)
    await log_in(client, arena.emails[0], PASSWORD)
    page = await client.get(f"/campaigns/{arena.slug}/coins")
    token = csrf_token(page.text)
    htmx = {"HX-Request": "true", "x-csrftoken": token}
    response = await client.post(
        f"/campaigns/{arena.slug}/coins/allocate", data={"idea_id": str(arena.ideas[0]), "amount": "12"}, headers=htmx
    )
    assert response.status_code == 200
    assert response.headers["hx-trigger"] == "coinsChanged"
    assert f'id="allocate-{arena.ideas[0]}"' in response.text
    assert "<strong>12</strong> coins" in response.text
    assert "yours: <strong>12</strong>" in response.text
    assert 'id="balance" hx-swap-oob="true"' in response.text
    # As through the API: the idea's author will hear of it (the flag is up, one job is scheduled).
    assert await valkey.get(f"coins_received:pending:{arena.ideas[0]}") is not None
    assert re.search(r'<span class="balance-number">88</span> <span>available</span>', response.text)

    refused = await client.post(
        f"/campaigns/{arena.slug}/coins/allocate", data={"idea_id": str(arena.ideas[0]), "amount": "500"}, headers=htmx
    )
    assert refused.status_code == 422
    assert "not enough coins" in refused.text.lower()
    assert re.search(r'<span class="balance-number">88</span> <span>available</span>', refused.text)


async def test_my_coins_page_and_plain_forms(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    arena = await make_arena(client, actors, db_engine)
    await client.post(
        arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 20}, headers=arena.members[0]
    )
    await log_in(client, arena.emails[0], PASSWORD)
    page = await client.get(f"/campaigns/{arena.slug}/coins")
    assert page.status_code == 200
    assert "Where my coins are" in page.text
    assert "Idea 1" in page.text
    moved = await client.post(
        f"/campaigns/{arena.slug}/coins/reallocate",
        data={"_csrf_token": csrf_token(page.text), "idea_id": str(arena.ideas[0]), "to_idea_id": str(arena.ideas[1]),
              "amount": "5", "next": f"/campaigns/{arena.slug}/coins"},
        follow_redirects=False,
    )  # fmt: skip
    assert moved.status_code == 303
    after = await client.get(f"/campaigns/{arena.slug}/coins")
    assert "You moved 5 to the other idea." in after.text
    assert "Move" in after.text
    history = after.text.split("My ledger")[1]
    assert "Move" in history
    assert "Allocate" in history
    outsider = await client.get("/campaigns/nope/coins")
    assert outsider.status_code == 404


async def test_quadratic_quote(client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine) -> None:
    arena = await make_arena(client, actors, db_engine, policy={"pricing": "quadratic"})
    await client.post(
        arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 2}, headers=arena.members[0]
    )
    await log_in(client, arena.emails[0], PASSWORD)
    quote = await client.get(
        f"/campaigns/{arena.slug}/coins/quote",
        params={"idea_id": arena.ideas[0], "amount": 3},
        headers={"HX-Request": "true"},
    )
    assert "3 more votes cost <strong>21</strong> coins" in quote.text  # 5² - 2²
