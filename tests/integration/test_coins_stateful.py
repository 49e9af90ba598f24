"""A hypothesis state machine drives the real coin operations on the real database against a plain model.

The model is deliberately naive: dictionaries and arithmetic, no SQL, no locks.  After every step the
database must agree with it exactly (balances, allocations, idea totals); every refusal must leave the
database unchanged and carry one of the reasons the model expected; at the end the ledger audit must be
clean.  Hypothesis also varies the campaign policy (pricing, recycling, reallocation, limits).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from coins.campaigns.locks import lock_campaign_exclusive
from coins.coins import ledger
from coins.coins.audit import run_audit
from coins.coins.errors import CoinError
from coins.coins.gateway import CampaignPolicy, CoinGateway
from coins.coins.ledger import Policy, RuleViolation
from coins.coins.services.grants import CoinGrants
from coins.coins.services.member import MemberCoins
from coins.coins.services.settlement import CoinSettlement
from coins.lib.events import EventBus

MEMBERS = 3
IDEAS = 4
INITIAL = 40
COMPETING = "competing"


@dataclass
class Model:
    policy: Policy
    available: dict[int, int] = field(default_factory=dict)
    allocated: dict[int, int] = field(default_factory=dict)
    expended: dict[int, int] = field(default_factory=dict)
    on: dict[tuple[int, int], int] = field(default_factory=dict)  # (idea, member) -> coins
    status: dict[int, str] = field(default_factory=dict)

    def coins(self, idea: int, member: int) -> int:
        return self.on.get((idea, member), 0)

    def idea_total(self, idea: int) -> int:
        return sum(c for (i, _), c in self.on.items() if i == idea)

    def status_reasons(self, take: int | None, put: int | None) -> set[str]:
        reasons = set()
        for idea in (take, put):
            if idea is None:
                continue
            state = self.status[idea]
            if state == "accepted":
                reasons.add("COIN_002" if idea == take else "IDEA_004")
            elif state != COMPETING:
                reasons.add("IDEA_003")
        return reasons


class Database:
    """The real thing: one campaign, its members and ideas, reached through the production code."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine: AsyncEngine = self.run(self._engine(url))
        self.gateway = CoinGateway(url, pool_size=10)
        self.run(self.gateway.start())
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.campaign: Any = None
        self.members: list[uuid.UUID] = []
        self.ideas: list[int] = []

    async def _engine(self, url: str) -> AsyncEngine:
        return create_async_engine(url, pool_size=2)

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.run(self.gateway.close())
        self.run(self.engine.dispose())
        self.loop.close()

    async def setup(self, policy: Policy) -> None:
        from coins.campaigns.models import Campaign

        async with self.engine.begin() as conn:
            self.members = []
            for _ in range(MEMBERS):
                user_id = uuid.uuid4()
                await conn.execute(
                    text(
                        "INSERT INTO users (id, email, full_name, password_hash, created_at, updated_at) "
                        "VALUES (:id, :email, 'Model Member', 'x', now(), now())"
                    ),
                    {"id": user_id, "email": f"m-{user_id.hex[:12]}@example.org"},
                )
                self.members.append(user_id)
            campaign_id = uuid.uuid4()
            await conn.execute(
                text(
                    "INSERT INTO campaigns (id, slug, title, description, description_html, starts_at, ends_at, campaign_type, status, "
                    "initial_allocation, idea_submission_reward, allow_reallocation, allow_recycling, "
                    "max_allocation_per_idea, min_allocation_amount, pricing, created_at, updated_at) "
                    "VALUES (:id, :slug, 'Model', '', '', now() - interval '1 day', now() + interval '1 day', 'open', "
                    "'active', :initial, 0, :realloc, :recycle, :max, :min, :pricing, now(), now())"
                ),
                {
                    "id": campaign_id, "slug": f"model-{campaign_id.hex[:12]}", "initial": INITIAL,
                    "realloc": policy.allow_reallocation, "recycle": policy.allow_recycling,
                    "max": policy.max_allocation_per_idea, "min": policy.min_allocation_amount,
                    "pricing": policy.pricing,
                },
            )  # fmt: skip
            for user_id in self.members:
                await conn.execute(
                    text("INSERT INTO campaign_members (id, campaign_id, user_id, role) VALUES (:i, :c, :u, 'member')"),
                    {"i": uuid.uuid4(), "c": campaign_id, "u": user_id},
                )
            rows = await conn.execute(
                text(
                    "INSERT INTO ideas (campaign_id, title, description, description_html, status) "
                    "SELECT :c, 'Idea ' || n, 'x', '', 'competing' FROM generate_series(1, :n) n RETURNING id"
                ),
                {"c": campaign_id, "n": IDEAS},
            )
            self.ideas = sorted(r.id for r in rows)
        async with self.sessions() as session:
            await CoinGrants(session).initial_allocation(
                campaign_id=campaign_id, user_ids=self.members, amount=INITIAL, actor_id=None
            )
            await session.commit()
            self.campaign = await session.get(Campaign, campaign_id)

    async def member_op(self, operation: str, member: int, **kwargs: int) -> str | None:
        """Run one member operation; return the error code, or None on success."""
        coins = MemberCoins(self.gateway, EventBus())
        try:
            await getattr(coins, operation)(
                CampaignPolicy.of(self.campaign), user_id=self.members[member], key=None, **kwargs
            )
        except CoinError as error:
            return error.error_code
        return None

    async def settle(self, idea: int, outcome: str) -> None:
        async with self.sessions() as session:
            target = "accepted" if outcome == "accepted" else "withdrawn"
            await lock_campaign_exclusive(session, self.campaign.id)
            await session.execute(text("UPDATE ideas SET status = :s WHERE id = :i"), {"s": target, "i": idea})
            await CoinSettlement(session).close_idea(
                campaign_id=self.campaign.id,
                policy=Policy.of(self.campaign),
                idea_id=idea,
                outcome=outcome,
                actor_id=None,  # type: ignore[arg-type]
            )
            await session.commit()

    async def merge(self, source: int, target: int) -> None:
        async with self.sessions() as session:
            await lock_campaign_exclusive(session, self.campaign.id)
            for idea in sorted((source, target)):
                await session.execute(text("SELECT 1 FROM ideas WHERE id = :i FOR UPDATE"), {"i": idea})
            await session.execute(
                text("UPDATE ideas SET status = 'merged', merged_into_id = :t WHERE id = :s"),
                {"s": source, "t": target},
            )
            await CoinSettlement(session).move_on_merge(
                campaign_id=self.campaign.id,
                policy=Policy.of(self.campaign),
                source_id=source,
                target_id=target,
                actor_id=None,
            )
            await session.commit()

    async def snapshot(self) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            balances = {
                r.user_id: (r.granted, r.available, r.allocated, r.expended)
                for r in await conn.execute(
                    text("SELECT * FROM coin_balances WHERE campaign_id = :c"), {"c": self.campaign.id}
                )
            }
            allocations = {
                (r.idea_id, r.user_id): r.coins
                for r in await conn.execute(
                    text("SELECT * FROM coin_allocations WHERE campaign_id = :c AND coins > 0"),
                    {"c": self.campaign.id},
                )
            }
            ideas = {
                r.id: (r.status, r.coins, r.supporters)
                for r in await conn.execute(text("SELECT * FROM ideas WHERE campaign_id = :c"), {"c": self.campaign.id})
            }
        return {"balances": balances, "allocations": allocations, "ideas": ideas}


policies = st.builds(
    Policy,
    allow_reallocation=st.booleans(),
    allow_recycling=st.booleans(),
    max_allocation_per_idea=st.one_of(st.none(), st.integers(min_value=5, max_value=30)),
    min_allocation_amount=st.integers(min_value=1, max_value=3),
    pricing=st.sampled_from(["linear", "quadratic"]),
)
members = st.integers(min_value=0, max_value=MEMBERS - 1)
ideas = st.integers(min_value=0, max_value=IDEAS - 1)
amounts = st.integers(min_value=0, max_value=12)


class CoinMachine(RuleBasedStateMachine):
    database: Database

    @initialize(policy=policies)
    def start(self, policy: Policy) -> None:
        self.model = Model(policy=policy)
        self.db = self.database
        self.db.run(self.db.setup(policy))
        for m in range(MEMBERS):
            self.model.available[m], self.model.allocated[m], self.model.expended[m] = INITIAL, 0, 0
        for i in range(IDEAS):
            self.model.status[i] = COMPETING

    # Member operations -----------------------------------------------------------------------------

    def _expect_allocation(self, member: int, idea: int | None, amount: int) -> tuple[set[str], int, int]:
        """(reasons to refuse, coins it costs, coins on the idea afterwards)."""
        policy, reasons = self.model.policy, set()
        try:
            change = ledger.plan_allocation(policy, amount=amount, current_coins=self.model.coins(idea or 0, member))
        except RuleViolation as violation:
            return {violation.code}, 0, 0
        return reasons, change.coins, change.coins_after

    @rule(member=members, idea=ideas, amount=amounts)
    def allocate(self, member: int, idea: int, amount: int) -> None:
        reasons, cost, after = self._expect_allocation(member, idea, amount)
        reasons |= self.model.status_reasons(None, idea)
        if not reasons and cost > self.model.available[member]:
            reasons.add("COIN_001")
        self._apply("allocate", member, reasons, idea_id=self.db.ideas[idea], amount=amount)
        if not reasons:
            self.model.available[member] -= cost
            self.model.allocated[member] += cost
            self.model.on[(idea, member)] = after

    @rule(member=members, idea=ideas, amount=amounts)
    def release(self, member: int, idea: int, amount: int) -> None:
        reasons: set[str] = set()
        refund = after = 0
        try:
            change = ledger.plan_release(self.model.policy, amount=amount, current_coins=self.model.coins(idea, member))
            refund, after = change.coins, change.coins_after
        except RuleViolation as violation:
            reasons.add(violation.code)
        reasons |= self.model.status_reasons(idea, None)
        self._apply("release", member, reasons, idea_id=self.db.ideas[idea], amount=amount)
        if not reasons:
            self.model.available[member] += refund
            self.model.allocated[member] -= refund
            self._set(idea, member, after)

    @rule(member=members, source=ideas, destination=ideas, amount=amounts)
    def reallocate(self, member: int, source: int, destination: int, amount: int) -> None:
        target = destination
        if source == target:
            return
        reasons: set[str] = set()
        move = None
        policy = self.model.policy
        checks = (
            lambda: ledger.plan_release(policy, amount=amount, current_coins=self.model.coins(source, member)),
            lambda: ledger.plan_allocation(policy, amount=amount, current_coins=self.model.coins(target, member)),
        )
        for check in checks:  # every reason that applies: the service may meet any of them first
            try:
                check()
            except RuleViolation as violation:
                reasons.add(violation.code)
        if not reasons:
            move = ledger.plan_move(
                policy, amount=amount, from_coins=self.model.coins(source, member),
                to_coins=self.model.coins(target, member),
            )  # fmt: skip
        reasons |= self.model.status_reasons(source, target)
        if not reasons and move is not None and -move.available_delta > self.model.available[member]:
            reasons.add("COIN_001")
        self._apply(
            "reallocate", member, reasons, from_idea_id=self.db.ideas[source], to_idea_id=self.db.ideas[target],
            amount=amount,
        )  # fmt: skip
        if not reasons and move is not None:
            self.model.available[member] += move.available_delta
            self.model.allocated[member] -= move.available_delta
            self._set(source, member, move.release.coins_after)
            self._set(target, member, move.allocate.coins_after)

    def _set(self, idea: int, member: int, coins: int) -> None:
        if coins:
            self.model.on[(idea, member)] = coins
        else:
            self.model.on.pop((idea, member), None)

    def _apply(self, operation: str, member: int, reasons: set[str], **kwargs: int) -> None:
        before = self.db.run(self.db.snapshot()) if reasons else None
        code = self.db.run(self.db.member_op(operation, member, **kwargs))
        if reasons:
            assert code is not None, f"{operation} {kwargs} should be refused ({reasons}) but succeeded"
            assert code in reasons, f"{operation} {kwargs}: refused with {code}, expected one of {reasons}"
            assert self.db.run(self.db.snapshot()) == before, "a refused operation changed the database"
        else:
            assert code is None, f"{operation} {kwargs} should succeed but was refused with {code}"

    # An idea's fate ------------------------------------------------------------------------------------

    @precondition(lambda self: any(s == COMPETING for s in self.model.status.values()))
    @rule(idea=ideas, outcome=st.sampled_from(["accepted", "withdrawn"]))
    def close(self, idea: int, outcome: str) -> None:
        if self.model.status[idea] != COMPETING:
            return
        self.db.run(self.db.settle(self.db.ideas[idea], outcome))
        self.model.status[idea] = outcome
        for (i, member), coins in list(self.model.on.items()):
            if i != idea:
                continue
            self.model.allocated[member] -= coins
            if outcome == "accepted":
                self.model.expended[member] += coins
            else:
                if self.model.policy.allow_recycling:
                    self.model.available[member] += coins
                else:
                    self.model.expended[member] += coins
                del self.model.on[(i, member)]

    @rule(source=ideas, destination=ideas)
    def merge(self, source: int, destination: int) -> None:
        target = destination
        if source == target or self.model.status[source] != COMPETING or self.model.status[target] != COMPETING:
            return
        self.db.run(self.db.merge(self.db.ideas[source], self.db.ideas[target]))
        self.model.status[source] = "merged"
        for (i, member), coins in list(self.model.on.items()):
            if i == source:
                self.model.on[(target, member)] = self.model.on.get((target, member), 0) + coins
                del self.model.on[(i, member)]

    # What must always hold --------------------------------------------------------------------------------

    @invariant()
    def database_matches_model(self) -> None:
        if not hasattr(self, "model"):
            return
        snapshot = self.db.run(self.db.snapshot())
        for m, user_id in enumerate(self.db.members):
            want = (INITIAL, self.model.available[m], self.model.allocated[m], self.model.expended[m])
            assert snapshot["balances"][user_id] == want, f"member {m}: {snapshot['balances'][user_id]} != {want}"
        want_allocations = {(self.db.ideas[i], self.db.members[m]): c for (i, m), c in self.model.on.items()}
        assert snapshot["allocations"] == want_allocations
        for i, idea_id in enumerate(self.db.ideas):
            status, coins, supporters = snapshot["ideas"][idea_id]
            assert status == self.model.status[i]
            assert coins == self.model.idea_total(i)
            assert supporters == sum(1 for (j, _), c in self.model.on.items() if j == i and c > 0)

    def teardown(self) -> None:
        if hasattr(self, "model"):
            report = self.db.run(run_audit(self.db.engine))
            assert report.clean, report.summary()


@pytest.mark.timeout(600)
def test_coin_rules_against_a_model(database_url: str, clean: None) -> None:
    database = Database(database_url)
    CoinMachine.database = database
    try:
        CoinMachine.TestCase.settings = settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        CoinMachine.TestCase().runTest()
    finally:
        database.close()
