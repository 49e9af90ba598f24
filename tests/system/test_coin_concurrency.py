"""1,200 concurrent coin requests through the HTTP API of two replicas, while ideas are accepted and withdrawn.

Many members, a few ideas, random amounts and operations; a fifth of the requests repeat an earlier
Idempotency-Key (some of them racing the original).  Afterwards: no balance is negative, every invariant
holds, every key was applied exactly once and its repeats got the original's answer, no request failed
with a server error, and the ledger audit finds nothing.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from coins.campaigns.locks import lock_campaign_exclusive
from coins.campaigns.models import Campaign
from coins.coins.ledger import Policy
from coins.coins.services.settlement import CoinSettlement
from tests.support.coins import add_ideas, assert_audit_clean
from tests.support.servers import AppProcess, unique_email

pytestmark = pytest.mark.system

MEMBERS = 40
IDEAS = 6
REQUESTS = 1200
CONCURRENCY = 48
INITIAL = 100


@pytest.fixture(scope="module")
def replicas(app_env: Callable[..., dict[str, str]]) -> Iterator[list[AppProcess]]:
    env = app_env(LOG_LEVEL="WARNING")
    processes = [AppProcess(env=env).start(), AppProcess(env=env).start()]
    try:
        yield processes
    finally:
        for process in processes:
            process.stop()


async def setup_campaign(base: str, admin_token: str) -> tuple[str, list[str]]:
    """A campaign with MEMBERS members, through the API; returns (slug, member tokens)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        admin = {"Authorization": f"Bearer {admin_token}"}
        now = time.time()
        slug = f"race-{uuid.uuid4().hex[:8]}"
        created = await client.post(
            "/api/campaigns",
            json={
                "slug": slug,
                "title": "Race",
                "campaign_type": "open",
                "starts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
                "ends_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 86400)),
                "coin_policy": {"initial_allocation": INITIAL},
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        assert (await client.post(f"/api/campaigns/{slug}/activate", headers=admin)).status_code == 200

        async def member() -> str:
            email = unique_email("racer")
            password = "Racing-Pass-42"
            registered = await client.post(
                "/api/auth/register", json={"email": email, "password": password, "full_name": "Racer"}
            )
            assert registered.status_code == 201, registered.text
            token = (await client.post("/api/auth/token", json={"email": email, "password": password})).json()
            auth = {"Authorization": f"Bearer {token['access_token']}"}
            assert (await client.post(f"/api/campaigns/{slug}/join", headers=auth)).status_code == 200
            return str(token["access_token"])

        tokens = list(await asyncio.gather(*(member() for _ in range(MEMBERS))))
    return slug, tokens


async def settle(db_engine: AsyncEngine, campaign_id: str, idea_id: int, outcome: str) -> None:
    """An idea leaves the competition while requests are in flight (what the ideas workflow does)."""
    sessions = async_sessionmaker(db_engine, expire_on_commit=False)
    async with sessions() as session:
        campaign = await session.get(Campaign, uuid.UUID(campaign_id))
        status = "accepted" if outcome == "accepted" else "withdrawn"
        await lock_campaign_exclusive(session, uuid.UUID(campaign_id))
        changed = await session.execute(
            text("UPDATE ideas SET status = :s WHERE id = :i AND status = 'competing' RETURNING id"),
            {"s": status, "i": idea_id},
        )
        assert changed.first() is not None
        await CoinSettlement(session).close_idea(
            campaign_id=campaign.id,
            policy=Policy.of(campaign),
            idea_id=idea_id,
            outcome=outcome,
            actor_id=None,  # type: ignore[arg-type]
        )
        await session.commit()


async def test_a_thousand_concurrent_coin_requests(
    replicas: list[AppProcess], db_engine: AsyncEngine, make_settings: Callable[..., Any], clean: None
) -> None:
    from tests.conftest import PASSWORD, make_admin

    admin_email = unique_email("admin")
    await make_admin(make_settings(), admin_email)
    async with httpx.AsyncClient(base_url=replicas[0].url) as client:
        admin_token = (await client.post("/api/auth/token", json={"email": admin_email, "password": PASSWORD})).json()[
            "access_token"
        ]
    slug, tokens = await setup_campaign(replicas[0].url, admin_token)
    async with db_engine.connect() as conn:
        campaign_id = str(await conn.scalar(text("SELECT id FROM campaigns WHERE slug = :s"), {"s": slug}))
    ideas = await add_ideas(db_engine, campaign_id, IDEAS)

    rng = random.Random(20261129)
    planned: list[dict[str, Any]] = []
    for number in range(REQUESTS):
        if planned and rng.random() < 0.2:
            original = rng.choice(planned)
            planned.append({**original, "repeat_of": original["number"], "number": number})
            continue
        operation = rng.choices(["allocate", "release", "reallocate"], weights=[70, 15, 15])[0]
        first, second = rng.sample(ideas, 2)
        body: dict[str, int] = (
            {"from_idea_id": first, "to_idea_id": second, "amount": rng.randint(1, 15)}
            if operation == "reallocate"
            else {"idea_id": first, "amount": rng.randint(1, 25)}
        )
        planned.append(
            {
                "number": number,
                "operation": operation,
                "body": body,
                "member": rng.randrange(MEMBERS),
                "key": f"k-{number}-{uuid.uuid4().hex[:6]}",
                "repeat_of": None,
            }
        )
    # Some repeats go out right next to their original, so the two race inside the database.
    order = list(range(REQUESTS))
    rng.shuffle(order)

    results: dict[int, httpx.Response] = {}
    semaphore = asyncio.Semaphore(CONCURRENCY)
    clients = [httpx.AsyncClient(base_url=r.url, timeout=60) for r in replicas]
    done = 0
    third, two_thirds = asyncio.Event(), asyncio.Event()

    async def send(number: int) -> None:
        nonlocal done
        item = planned[number]
        async with semaphore:
            client = clients[number % 2]
            response = await client.post(
                f"/api/campaigns/{slug}/coins/{item['operation']}",
                json=item["body"],
                headers={"Authorization": f"Bearer {tokens[item['member']]}", "Idempotency-Key": item["key"]},
            )
            results[number] = response
            done += 1
            if done >= REQUESTS // 3:
                third.set()
            if done >= 2 * REQUESTS // 3:
                two_thirds.set()

    async def meanwhile() -> None:
        """Accept one idea and withdraw another while the requests are in flight."""
        await third.wait()
        await settle(db_engine, campaign_id, ideas[0], "accepted")
        await two_thirds.wait()
        await settle(db_engine, campaign_id, ideas[1], "withdrawn")

    started = time.perf_counter()
    try:
        await asyncio.gather(meanwhile(), *(send(n) for n in order))
    finally:
        for client in clients:
            await client.aclose()
    elapsed = time.perf_counter() - started

    statuses = Counter(r.status_code for r in results.values())
    codes = Counter(r.json().get("error_code") for r in results.values() if r.status_code != 200)
    print(f"\n{REQUESTS} requests in {elapsed:.1f}s: statuses {dict(statuses)}, refusals {dict(codes)}")
    assert len(results) == REQUESTS
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {200, 422}, statuses
    assert statuses[200] > REQUESTS // 3  # plenty of real movement, not only refusals

    # Every repeated key was applied once: its repeats answered like the original (or, if the original was
    # refused, were refused the same way) and the ledger holds the key's entries exactly once.
    for item in planned:
        if item["repeat_of"] is None:
            continue
        original, repeat = results[item["repeat_of"]], results[item["number"]]
        assert repeat.status_code == original.status_code
        if original.status_code == 200:
            assert repeat.json() == original.json()
            assert (
                repeat.headers.get("idempotent-replayed") == "true"
                or original.headers.get("idempotent-replayed") == "true"
            )
    async with db_engine.connect() as conn:
        per_key = dict(
            (
                await conn.execute(
                    text(
                        "SELECT idempotency_key, count(*) FROM coin_ledger "
                        "WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key"
                    )
                )
            ).all()
        )
        negative = await conn.scalar(
            text("SELECT count(*) FROM coin_balances WHERE available < 0 OR allocated < 0 OR expended < 0")
        )
        totals = (
            await conn.execute(
                text(
                    "SELECT sum(granted) AS granted, sum(available + allocated + expended) AS held "
                    "FROM coin_balances WHERE campaign_id = :c"
                ),
                {"c": campaign_id},
            )
        ).one()
        accepted_coins = await conn.scalar(text("SELECT coins FROM ideas WHERE id = :i"), {"i": ideas[0]})
        withdrawn_coins = await conn.scalar(text("SELECT coins FROM ideas WHERE id = :i"), {"i": ideas[1]})
    successes = {
        item["key"] for item in planned if item["repeat_of"] is None and results[item["number"]].status_code == 200
    }
    repeated_successes = {
        item["key"] for item in planned if item["repeat_of"] is not None and results[item["number"]].status_code == 200
    }
    for key in successes | repeated_successes:
        assert per_key.get(key) == 1, f"key {key} left {per_key.get(key)} ledger entries"
    assert negative == 0
    assert totals.granted == totals.held == MEMBERS * INITIAL
    assert withdrawn_coins == 0
    assert accepted_coins >= 0
    report = await assert_audit_clean(db_engine)
    print(report.summary())
