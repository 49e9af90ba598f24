"""Coin operations through the JSON API: rules, refusals that change nothing, idempotency, pricing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from coins.coins.gateway import COIN_POOL_NAME
from coins.coins.models import LedgerEntry
from coins.settings import Settings
from tests.support.coins import Arena, assert_audit_clean, make_arena, set_idea_status
from tests.support.factories import Actors

BALANCE_KEYS = {"granted", "available", "allocated", "expended"}


@pytest.fixture
async def actors(client: AsyncTestClient[Litestar], settings: Settings) -> Actors:
    return await Actors(client, settings).setup()


async def balance(client: AsyncTestClient[Litestar], arena: Arena, who: dict[str, str]) -> dict[str, int]:
    response = await client.get(arena.coins_path("balance"), headers=who)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def idea_row(db_engine: AsyncEngine, idea_id: int) -> tuple[int, int]:
    async with db_engine.connect() as conn:
        row = (await conn.execute(text("SELECT coins, supporters FROM ideas WHERE id = :i"), {"i": idea_id})).one()
    return row.coins, row.supporters


async def test_allocate_release_reallocate(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    arena = await make_arena(client, actors, db_engine)
    alice, bob = arena.members
    first, second = arena.ideas
    allocated = await client.post(arena.coins_path("allocate"), json={"idea_id": first, "amount": 30}, headers=alice)
    assert allocated.status_code == 200, allocated.text
    assert allocated.json() == {"granted": 100, "available": 70, "allocated": 30, "expended": 0}
    await client.post(arena.coins_path("allocate"), json={"idea_id": first, "amount": 5}, headers=bob)
    assert await idea_row(db_engine, first) == (35, 2)

    released = await client.post(arena.coins_path("release"), json={"idea_id": first, "amount": 10}, headers=alice)
    assert released.json()["available"] == 80
    moved = await client.post(
        arena.coins_path("reallocate"),
        json={"from_idea_id": first, "to_idea_id": second, "amount": 20},
        headers=alice,
    )
    assert moved.json() == {"granted": 100, "available": 80, "allocated": 20, "expended": 0}
    assert await idea_row(db_engine, first) == (5, 1)  # alice left it entirely
    assert await idea_row(db_engine, second) == (20, 1)

    mine = (await client.get(arena.coins_path("allocations"), headers=alice)).json()
    assert [(a["idea_id"], a["coins"]) for a in mine["items"]] == [(second, 20)]
    history = (await client.get(arena.coins_path("history"), headers=alice)).json()
    assert [(e["kind"], e["amount"]) for e in history["items"]] == [
        ("move", 20), ("release", 10), ("allocate", 30), ("grant", 100)
    ]  # fmt: skip
    await assert_audit_clean(db_engine)


async def test_refusals_say_why_and_change_nothing(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    arena = await make_arena(
        client, actors, db_engine, policy={"max_allocation_per_idea": 50, "min_allocation_amount": 2}
    )
    alice, bob = arena.members
    first, second = arena.ideas
    await client.post(arena.coins_path("allocate"), json={"idea_id": first, "amount": 40}, headers=alice)
    before = await balance(client, arena, alice)

    async def refused(
        operation: str, body: dict[str, int], status: int, code: str, who: dict[str, str] = alice
    ) -> None:
        response = await client.post(arena.coins_path(operation), json=body, headers=who)
        assert response.status_code == status, response.text
        assert response.json()["error_code"] == code, response.json()

    await refused("allocate", {"idea_id": second, "amount": 61}, 422, "COIN_004")  # over the per-idea maximum
    await refused("allocate", {"idea_id": first, "amount": 11}, 422, "COIN_004")  # 40 + 11 > 50
    await refused("allocate", {"idea_id": second, "amount": 1}, 422, "VALIDATION_001")  # under the minimum
    await refused("release", {"idea_id": first, "amount": 41}, 422, "COIN_001")  # more than is on it
    await refused("release", {"idea_id": second, "amount": 5}, 422, "COIN_001")  # nothing on it
    await refused("allocate", {"idea_id": 999_999, "amount": 5}, 404, "IDEA_001")
    await refused("reallocate", {"from_idea_id": first, "to_idea_id": first, "amount": 5}, 422, "VALIDATION_001")
    await set_idea_status(db_engine, second, "pending")
    await refused("allocate", {"idea_id": second, "amount": 5}, 422, "IDEA_003")
    await refused("reallocate", {"from_idea_id": first, "to_idea_id": second, "amount": 5}, 422, "IDEA_003")
    await set_idea_status(db_engine, second, "accepted")
    await refused("allocate", {"idea_id": second, "amount": 5}, 422, "IDEA_004")
    assert await balance(client, arena, alice) == before
    await refused("allocate", {"idea_id": first, "amount": 51}, 422, "COIN_004", who=bob)
    await client.post(arena.coins_path("allocate"), json={"idea_id": first, "amount": 50}, headers=bob)
    await assert_audit_clean(db_engine)


async def test_not_enough_coins(client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine) -> None:
    arena = await make_arena(client, actors, db_engine, ideas=3)
    alice, _ = arena.members
    for idea in arena.ideas[:2]:
        assert (await client.post(arena.coins_path("allocate"), json={"idea_id": idea, "amount": 45},
                                  headers=alice)).status_code == 200  # fmt: skip
    over = await client.post(arena.coins_path("allocate"), json={"idea_id": arena.ideas[2], "amount": 11},
                             headers=alice)  # fmt: skip
    assert over.status_code == 422
    assert over.json()["error_code"] == "COIN_001"
    assert "10 available" in over.json()["message"]
    assert (await balance(client, arena, alice))["available"] == 10
    assert await idea_row(db_engine, arena.ideas[2]) == (0, 0)


async def test_reallocation_off_and_campaign_closed(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    arena = await make_arena(client, actors, db_engine, policy={"allow_reallocation": False})
    alice, _ = arena.members
    await client.post(arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 10}, headers=alice)
    for operation, body in [
        ("release", {"idea_id": arena.ideas[0], "amount": 1}),
        ("reallocate", {"from_idea_id": arena.ideas[0], "to_idea_id": arena.ideas[1], "amount": 1}),
    ]:
        response = await client.post(arena.coins_path(operation), json=body, headers=alice)
        assert response.status_code == 422
        assert response.json()["error_code"] == "COIN_003"
    await client.post(f"/api/campaigns/{arena.slug}/complete", headers=arena.manager)
    closed = await client.post(arena.coins_path("allocate"), json={"idea_id": arena.ideas[1], "amount": 1},
                               headers=alice)  # fmt: skip
    assert closed.status_code == 422
    assert closed.json()["error_code"] == "CAMPAIGN_002"
    assert (await balance(client, arena, alice))["available"] == 90


async def test_outsiders_cannot_touch_coins(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    arena = await make_arena(client, actors, db_engine)
    _, outsider = await actors.person("outsider")
    response = await client.post(arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 1},
                                 headers=outsider)  # fmt: skip
    assert response.status_code == 403
    assert response.json()["error_code"] == "AUTH_002"
    anonymous = await client.post(arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 1})
    assert anonymous.status_code == 401


async def test_idempotency_key_replays_the_first_result(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    arena = await make_arena(client, actors, db_engine)
    alice, _ = arena.members
    headers = {**alice, "Idempotency-Key": "alloc-0001"}
    first = await client.post(
        arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 7}, headers=headers
    )
    again = await client.post(
        arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 7}, headers=headers
    )
    assert first.json() == again.json() == {"granted": 100, "available": 93, "allocated": 7, "expended": 0}
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    different = await client.post(arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 8},
                                  headers=headers)  # fmt: skip
    assert different.status_code == 422
    assert different.json()["error_code"] == "IDEMPOTENCY_001"
    # The same key from another member is their own key.
    other = await client.post(arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 7},
                              headers={**arena.members[1], "Idempotency-Key": "alloc-0001"})  # fmt: skip
    assert other.json()["available"] == 93
    assert (await balance(client, arena, alice))["available"] == 93
    async with db_engine.connect() as conn:
        keyed = await conn.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.idempotency_key == "alloc-0001")
        )
    assert keyed == 2  # once per member


async def test_racing_repeats_of_one_key_apply_once(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    arena = await make_arena(client, actors, db_engine)
    alice, _ = arena.members
    headers = {**alice, "Idempotency-Key": "race-key"}
    responses = await asyncio.gather(
        *(
            client.post(arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 9}, headers=headers)
            for _ in range(12)
        )
    )
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["available"] for r in responses} == {91}
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 11
    assert (await balance(client, arena, alice))["available"] == 91
    await assert_audit_clean(db_engine)


async def test_quadratic_pricing(client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine) -> None:
    arena = await make_arena(client, actors, db_engine, policy={"pricing": "quadratic"})
    alice, _ = arena.members
    first, second = arena.ideas
    one = await client.post(arena.coins_path("allocate"), json={"idea_id": first, "amount": 3}, headers=alice)
    assert one.json()["allocated"] == 9  # 3 votes cost 3² coins
    two = await client.post(arena.coins_path("allocate"), json={"idea_id": first, "amount": 2}, headers=alice)
    assert two.json()["allocated"] == 25  # 5 votes cost 25: the 2 extra votes cost 16
    mine = (await client.get(arena.coins_path("allocations"), headers=alice)).json()["items"]
    assert (mine[0]["coins"], mine[0]["votes"]) == (25, 5)
    back = await client.post(arena.coins_path("release"), json={"idea_id": first, "amount": 1}, headers=alice)
    assert back.json()["allocated"] == 16  # 4 votes
    move = await client.post(
        arena.coins_path("reallocate"),
        json={"from_idea_id": first, "to_idea_id": second, "amount": 2},
        headers=alice,
    )
    # first: 4 -> 2 votes frees 12 coins; second: 0 -> 2 votes costs 4.
    assert move.json() == {"granted": 100, "available": 92, "allocated": 8, "expended": 0}
    too_many = await client.post(arena.coins_path("allocate"), json={"idea_id": second, "amount": 9}, headers=alice)
    assert too_many.json()["error_code"] == "COIN_001"  # 11² - 2² = 117 > 92
    await assert_audit_clean(db_engine)


async def test_bad_bodies_and_keys(client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine) -> None:
    arena = await make_arena(client, actors, db_engine)
    alice, _ = arena.members
    for body in (
        {"idea_id": arena.ideas[0]},
        {"idea_id": arena.ideas[0], "amount": 0},
        {"idea_id": "x", "amount": 1},
    ):
        response = await client.post(arena.coins_path("allocate"), json=body, headers=alice)
        assert response.status_code in {400, 422}
        assert response.json()["error_code"] == "VALIDATION_001"
    long_key = await client.post(arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 1},
                                 headers={**alice, "Idempotency-Key": "k" * 201})  # fmt: skip
    assert long_key.status_code == 422
    assert (await balance(client, arena, alice))["available"] == 100


async def test_a_connection_killed_under_the_coin_pool_is_a_503_then_replaced(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    """What a PostgreSQL restart does to idle pooled connections (FATAL 57P01), done to one replica's coin
    pool: the request that meets a dead connection gets a 503 to retry, never a 500, and the next one works."""
    arena = await make_arena(client, actors, db_engine)
    alice = arena.members[0]
    idea = arena.ideas[0]
    assert (
        await client.post(arena.coins_path("allocate"), json={"idea_id": idea, "amount": 1}, headers=alice)
    ).is_success
    async with db_engine.connect() as conn:
        killed = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND pid <> pg_backend_pid()"
            ),
            {"name": COIN_POOL_NAME},
        )
    assert killed and killed >= 1
    await asyncio.sleep(0.2)  # let the FATAL message reach the idle connections
    statuses = []
    for _ in range(3):
        response = await client.post(arena.coins_path("allocate"), json={"idea_id": idea, "amount": 1}, headers=alice)
        statuses.append(response.status_code)
        if response.status_code == 503:
            assert response.json()["error_code"] == "SYSTEM_003", response.text
            assert response.headers["retry-after"] == "1"
    assert statuses[-1] == 200 and set(statuses) <= {200, 503}, statuses
    assert (await balance(client, arena, alice))["allocated"] == 1 + statuses.count(200)
    await assert_audit_clean(db_engine)


async def _hold_coin_lock_shared(db_engine: AsyncEngine, campaign_id: str) -> tuple[AsyncConnection, Any]:
    """What a member's coin operation holds while it runs: the campaign's advisory lock, shared."""
    conn = await db_engine.connect()
    transaction = await conn.begin()
    await conn.execute(text("SELECT pg_advisory_xact_lock_shared(hashtextextended(:c, 0))"), {"c": str(campaign_id)})
    return conn, transaction


async def test_settling_and_completing_wait_for_coin_operations_in_flight(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine, settings: Settings
) -> None:
    """Accepting an idea and completing a campaign take the coin lock exclusively (coins.campaigns.locks).

    The services are called directly: the in-process test client runs one request at a time.
    """
    from coins.accounts.auth import CurrentUser
    from coins.campaigns.services.lifecycle import CampaignLifecycle
    from coins.ideas.services.workflow import IdeaWorkflow
    from tests.support.parts import service_session

    arena = await make_arena(client, actors, db_engine)
    alice, _ = arena.members
    await client.post(arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 10}, headers=alice)
    async with db_engine.connect() as conn:
        manager_id = await conn.scalar(
            text("SELECT user_id FROM campaign_members WHERE campaign_id = :c AND role = 'manager'"),
            {"c": arena.campaign_id},
        )
    manager = CurrentUser(
        id=manager_id, email="", full_name="", is_admin=False, is_sponsor=False, security_stamp=0, via="session"
    )

    async def accept() -> None:
        async with service_session(settings) as (session, parts):
            await IdeaWorkflow(session, parts.events).change_status(arena.ideas[0], manager, "accepted")

    async def complete() -> None:
        async with service_session(settings) as (session, parts):
            await CampaignLifecycle(session, parts.events).transition(arena.slug, manager, "completed")

    for change in (accept, complete):
        conn, transaction = await _hold_coin_lock_shared(db_engine, arena.campaign_id)
        try:
            pending = asyncio.ensure_future(change())
            await asyncio.sleep(0.5)
            assert not pending.done()  # waiting for the operation in flight
        finally:
            await transaction.commit()
            await conn.close()
        await asyncio.wait_for(pending, timeout=10)
    assert (await balance(client, arena, alice))["expended"] == 10
    assert (await client.get(f"/api/campaigns/{arena.slug}", headers=arena.manager)).json()["status"] == "completed"
    await assert_audit_clean(db_engine)


async def test_settling_without_the_exclusive_lock_is_refused_not_deadlocked(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    from coins.campaigns.models import Campaign
    from coins.coins.ledger import Policy
    from coins.coins.services.settlement import CoinSettlement

    arena = await make_arena(client, actors, db_engine)
    conn, transaction = await _hold_coin_lock_shared(db_engine, arena.campaign_id)
    try:
        async with AsyncSession(db_engine) as session:
            campaign = await session.get_one(Campaign, uuid.UUID(arena.campaign_id))
            await session.execute(text("UPDATE ideas SET status = 'accepted' WHERE id = :i"), {"i": arena.ideas[0]})
            with pytest.raises(RuntimeError, match="lock_campaign_exclusive"):
                await CoinSettlement(session).close_idea(
                    campaign_id=campaign.id,
                    policy=Policy.of(campaign),
                    idea_id=arena.ideas[0],
                    outcome="accepted",
                    actor_id=None,
                )
            await session.rollback()
    finally:
        await transaction.commit()
        await conn.close()
