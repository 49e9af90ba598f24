"""The coin rules, as pure functions: no I/O, no clock, exhaustively unit-tested.

The service asks these functions what a request means (how many coins move, what the allocation becomes)
and the database applies the answer with guards (conditional updates, CHECK constraints), so no
interleaving of requests can overspend.  Amounts are always positive integers; the kind of a ledger entry
says which way they move:

    grant, reward   granted += a, available += a
    allocate        available -= a, allocated += a        (onto an idea)
    release         allocated -= a, available += a        (back from an idea, by the member)
    move            no balance change: coins go from one idea to another (reallocation, merge)
    expend          allocated -= a, expended += a         (the idea was accepted)
    recycle         allocated -= a, available += a        (the idea was withdrawn or rejected)
    forfeit         allocated -= a, expended += a         (withdrawn or rejected, recycling off)

Pricing: linear means one coin is one vote; quadratic means n votes on one idea cost n² coins in total,
so an allocation holding `coins` has isqrt(coins) votes and adding votes costs the difference of squares.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from math import isqrt
from typing import Any, Literal
from uuid import UUID

Pricing = Literal["linear", "quadratic"]
# What an idea's status change means for the coins on it (see `coin_outcome`).
Outcome = Literal["accepted", "withdrawn", "rejected", "merged", "approved"]


class Kind(StrEnum):
    GRANT = "grant"
    REWARD = "reward"
    ALLOCATE = "allocate"
    RELEASE = "release"
    MOVE = "move"
    EXPEND = "expend"
    RECYCLE = "recycle"
    FORFEIT = "forfeit"


@dataclass(frozen=True)
class Policy:
    initial_allocation: int = 100
    idea_submission_reward: int = 0
    allow_reallocation: bool = True
    allow_recycling: bool = True
    max_allocation_per_idea: int | None = None
    min_allocation_amount: int = 1
    pricing: Pricing = "linear"

    @classmethod
    def of(cls, settings: Any) -> Policy:
        """The policy fields of anything that carries them (a campaign row, the coin path's cached campaign)."""
        return cls(
            initial_allocation=settings.initial_allocation,
            idea_submission_reward=settings.idea_submission_reward,
            allow_reallocation=settings.allow_reallocation,
            allow_recycling=settings.allow_recycling,
            max_allocation_per_idea=settings.max_allocation_per_idea,
            min_allocation_amount=settings.min_allocation_amount,
            pricing=settings.pricing,
        )


@dataclass(frozen=True)
class Balance:
    granted: int = 0
    available: int = 0
    allocated: int = 0
    expended: int = 0

    @property
    def consistent(self) -> bool:
        return (
            min(self.available, self.allocated, self.expended) >= 0
            and self.granted == self.available + self.allocated + self.expended
        )


class RuleViolation(Exception):
    """A request the rules refuse; `code` is the SPEC.md error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def votes_for(coins: int, pricing: Pricing) -> int:
    return coins if pricing == "linear" else isqrt(coins)


def cost_of_votes(votes: int, pricing: Pricing) -> int:
    """Coins that `votes` votes on one idea cost in total."""
    return votes if pricing == "linear" else votes * votes


@dataclass(frozen=True)
class Change:
    """What an allocation or release does to one member's allocation on one idea."""

    coins: int  # coins that move (always > 0)
    coins_after: int  # the member's coins on the idea afterwards
    votes_after: int


def check_allocation(policy: Policy, amount: int) -> None:
    """What the policy says about an allocation before looking at any state."""
    if amount < policy.min_allocation_amount:
        raise RuleViolation("VALIDATION_001", f"Allocate at least {policy.min_allocation_amount} at a time.")
    if (
        policy.max_allocation_per_idea is not None
        and cost_of_votes(amount, policy.pricing) > policy.max_allocation_per_idea
    ):
        raise RuleViolation("COIN_004", f"At most {policy.max_allocation_per_idea} coins per idea.")


def check_release(policy: Policy, amount: int) -> None:
    """What the policy says about taking coins back before looking at any state."""
    if not policy.allow_reallocation:
        raise RuleViolation("COIN_003", "This campaign does not allow taking coins back or moving them.")
    if amount < 1:
        raise RuleViolation("VALIDATION_001", "Release at least 1.")


def plan_allocation(policy: Policy, *, amount: int, current_coins: int) -> Change:
    """Put `amount` more votes (coins, when linear) on an idea that already holds `current_coins` of ours.

    Raises RuleViolation for amounts the policy refuses.  Whether the member can afford it is checked
    by the database against the real balance, in the same statement that takes the coins.
    """
    check_allocation(policy, amount)
    votes_after = votes_for(current_coins, policy.pricing) + amount
    coins_after = cost_of_votes(votes_after, policy.pricing)
    if policy.max_allocation_per_idea is not None and coins_after > policy.max_allocation_per_idea:
        raise RuleViolation(
            "COIN_004",
            f"At most {policy.max_allocation_per_idea} coins per idea: you would have {coins_after} on it.",
        )
    return Change(coins=coins_after - current_coins, coins_after=coins_after, votes_after=votes_after)


def plan_release(policy: Policy, *, amount: int, current_coins: int) -> Change:
    """Take `amount` votes (coins, when linear) back from an idea holding `current_coins` of ours."""
    check_release(policy, amount)
    votes_now = votes_for(current_coins, policy.pricing)
    if amount > votes_now:
        unit = "coins" if policy.pricing == "linear" else "votes"
        raise RuleViolation("COIN_001", f"You have only {votes_now} {unit} on this idea.")
    votes_after = votes_now - amount
    coins_after = cost_of_votes(votes_after, policy.pricing)
    # Under quadratic pricing, coins beyond votes² (left over from a merge) go back with the first release.
    return Change(coins=current_coins - coins_after, coins_after=coins_after, votes_after=votes_after)


@dataclass(frozen=True)
class Move:
    """A reallocation: coins leave one idea (a release) and land on another (an allocation)."""

    release: Change
    allocate: Change

    @property
    def available_delta(self) -> int:
        """Positive: the member gets coins back; negative: the move costs extra (quadratic only)."""
        return self.release.coins - self.allocate.coins


def plan_move(policy: Policy, *, amount: int, from_coins: int, to_coins: int) -> Move:
    """Move `amount` votes from one idea to another. Under linear pricing the same coins simply move."""
    release = plan_release(policy, amount=amount, current_coins=from_coins)
    allocate = plan_allocation(policy, amount=amount, current_coins=to_coins)
    return Move(release=release, allocate=allocate)


def can_allocate(*, is_member: bool, campaign_status: str, idea_status: str) -> bool:
    """Only members, only active campaigns, only competing ideas (SPEC.md, "Allocate")."""
    return is_member and campaign_status == "active" and idea_status == "competing"


def coin_outcome(from_status: str, to_status: str) -> Outcome | None:
    """What an idea's status change does to its coins: settle them (accepted: expended; withdrawn from the
    competition or rejected: returned or forfeited), move them with a merge, or reward the author of an
    idea that starts competing.  None: nothing moves (starting or completing accepted work)."""
    if to_status == "accepted":
        return "accepted"
    if to_status == "withdrawn" and from_status == "competing":
        return "withdrawn"
    if to_status == "rejected":
        return "rejected"  # a pending idea holds no coins; settled anyway, so none could ever be lost
    if to_status == "merged":
        return "merged"
    if to_status == "competing":
        return "approved"
    return None


def closing_kind(policy: Policy, outcome: Literal["accepted", "withdrawn", "rejected"]) -> Kind:
    """What happens to the coins on an idea that leaves the competition."""
    if outcome == "accepted":
        return Kind.EXPEND
    return Kind.RECYCLE if policy.allow_recycling else Kind.FORFEIT


def merged_allocation(policy: Policy, *, source_coins: int, target_coins: int) -> tuple[int, int]:
    """A member's allocation after a merge: the coins move with the idea, votes follow from the coins."""
    coins = source_coins + target_coins
    return coins, votes_for(coins, policy.pricing)


def apply(balance: Balance, kind: Kind, amount: int) -> Balance:
    """The balance after one ledger entry; raises RuleViolation if it would break an invariant."""
    if amount <= 0:
        raise RuleViolation("VALIDATION_001", "Ledger amounts are positive.")
    g, a, al, e = balance.granted, balance.available, balance.allocated, balance.expended
    match kind:
        case Kind.GRANT | Kind.REWARD:
            g, a = g + amount, a + amount
        case Kind.ALLOCATE:
            a, al = a - amount, al + amount
        case Kind.RELEASE | Kind.RECYCLE:
            al, a = al - amount, a + amount
        case Kind.EXPEND | Kind.FORFEIT:
            al, e = al - amount, e + amount
        case Kind.MOVE:
            pass
    result = Balance(granted=g, available=a, allocated=al, expended=e)
    if not result.consistent:
        raise RuleViolation("COIN_001", f"{kind.value} of {amount} would break the balance {balance}.")
    return result


def replay(entries: Iterable[tuple[Kind | str, int]]) -> Balance:
    """Re-derive a balance from its ledger entries (the audit does the same in SQL)."""
    balance = Balance()
    for kind, amount in entries:
        balance = apply(balance, Kind(kind), amount)
    return balance


# A member's own operation, as the coin function applies it ---------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One idea's side of a member's operation: coins taken from it (release) or put on it (allocation).

    Under quadratic pricing the price depends on the member's allocation on the idea, so the plan carries the
    allocation it was priced from (`expected`) and the result (`after`, `votes`); the database refuses the
    plan (STALE) when the allocation changed meanwhile.  Under linear pricing those stay None.
    """

    idea_id: int
    coins: int
    expected: int | None = None
    after: int | None = None
    votes: int | None = None


@dataclass(frozen=True)
class MemberMove:
    """Everything `coin_member_move` needs for one allocate, release or reallocate (take, put or both)."""

    campaign_id: UUID
    user_id: UUID
    policy: Policy
    take: Side | None
    put: Side | None
    # Idempotency-Key and the fingerprint of what it was used for; a bearer token's security stamp (the
    # function checks it against the account); the cached policy's version (STALE_POLICY when it changed).
    key: str | None = None
    fingerprint: str | None = None
    stamp: int | None = None
    policy_version: datetime | None = None

    def arguments(self) -> tuple[Any, ...]:
        """The coin function's arguments, in its order."""
        take, put = self.take, self.put
        return (
            self.campaign_id, self.user_id, self.user_id, self.key, self.fingerprint,
            self.policy.pricing == "linear", self.policy.max_allocation_per_idea,
            take.idea_id if take else None, take.coins if take else None, take.expected if take else None,
            take.after if take else None, take.votes if take else None,
            put.idea_id if put else None, put.coins if put else None, put.expected if put else None,
            put.after if put else None, put.votes if put else None,
            self.stamp, self.policy_version,
        )  # fmt: skip


def plan_side(policy: Policy, *, idea_id: int, amount: int, taking: bool, current_coins: int | None) -> Side:
    """One side of a member's operation; `current_coins` is needed (and used) only under quadratic pricing."""
    if taking:
        check_release(policy, amount)
    else:
        check_allocation(policy, amount)
    if policy.pricing == "linear" or current_coins is None:
        return Side(idea_id=idea_id, coins=amount)
    change = (plan_release if taking else plan_allocation)(policy, amount=amount, current_coins=current_coins)
    return Side(idea_id, change.coins, expected=current_coins, after=change.coins_after, votes=change.votes_after)
