"""The coin rules (coins/ledger.py), exhaustively: every kind, both pricings, every policy switch."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coins.coins import ledger
from coins.coins.ledger import Balance, Kind, Policy, RuleViolation

LINEAR = Policy()
QUADRATIC = Policy(pricing="quadratic")


@pytest.mark.parametrize(
    ("kind", "amount", "expected"),
    [
        (Kind.GRANT, 10, Balance(110, 60, 30, 20)),
        (Kind.REWARD, 5, Balance(105, 55, 30, 20)),
        (Kind.ALLOCATE, 50, Balance(100, 0, 80, 20)),
        (Kind.RELEASE, 30, Balance(100, 80, 0, 20)),
        (Kind.RECYCLE, 10, Balance(100, 60, 20, 20)),
        (Kind.EXPEND, 30, Balance(100, 50, 0, 50)),
        (Kind.FORFEIT, 1, Balance(100, 50, 29, 21)),
        (Kind.MOVE, 30, Balance(100, 50, 30, 20)),
    ],
)
def test_each_kind_moves_coins_one_way(kind: Kind, amount: int, expected: Balance) -> None:
    start = Balance(granted=100, available=50, allocated=30, expended=20)
    assert ledger.apply(start, kind, amount) == expected
    assert expected.consistent


@pytest.mark.parametrize(
    ("kind", "amount"),
    [(Kind.ALLOCATE, 51), (Kind.RELEASE, 31), (Kind.RECYCLE, 31), (Kind.EXPEND, 31), (Kind.FORFEIT, 31)],
)
def test_no_kind_can_overdraw(kind: Kind, amount: int) -> None:
    with pytest.raises(RuleViolation) as caught:
        ledger.apply(Balance(100, 50, 30, 20), kind, amount)
    assert caught.value.code == "COIN_001"


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("amount", [0, -1])
def test_amounts_are_positive(kind: Kind, amount: int) -> None:
    with pytest.raises(RuleViolation):
        ledger.apply(Balance(100, 100, 0, 0), kind, amount)


def test_replay_rebuilds_a_balance() -> None:
    entries = [("grant", 100), ("allocate", 40), ("release", 10), ("move", 5), ("expend", 20), ("reward", 3)]
    assert ledger.replay(entries) == Balance(granted=103, available=73, allocated=10, expended=20)


@pytest.mark.parametrize(("votes", "linear", "quadratic"), [(0, 0, 0), (1, 1, 1), (2, 2, 4), (5, 5, 25), (10, 10, 100)])
def test_pricing(votes: int, linear: int, quadratic: int) -> None:
    assert ledger.cost_of_votes(votes, "linear") == linear
    assert ledger.cost_of_votes(votes, "quadratic") == quadratic
    assert ledger.votes_for(quadratic, "quadratic") == votes
    assert ledger.votes_for(quadratic + 1, "quadratic") == (votes if votes else 1)


@pytest.mark.parametrize(
    ("policy", "amount", "current", "coins", "after", "votes"),
    [
        (LINEAR, 5, 0, 5, 5, 5),
        (LINEAR, 5, 10, 5, 15, 15),
        (QUADRATIC, 3, 0, 9, 9, 3),
        (QUADRATIC, 2, 9, 16, 25, 5),
        (QUADRATIC, 1, 10, 6, 16, 4),  # 10 coins hold 3 votes (after a merge); the 4th vote tops up to 16
    ],
)
def test_plan_allocation(policy: Policy, amount: int, current: int, coins: int, after: int, votes: int) -> None:
    change = ledger.plan_allocation(policy, amount=amount, current_coins=current)
    assert (change.coins, change.coins_after, change.votes_after) == (coins, after, votes)


@pytest.mark.parametrize(
    ("policy", "amount", "current", "code"),
    [
        (Policy(min_allocation_amount=5), 4, 0, "VALIDATION_001"),
        (Policy(max_allocation_per_idea=10), 11, 0, "COIN_004"),
        (Policy(max_allocation_per_idea=10), 3, 8, "COIN_004"),
        (Policy(pricing="quadratic", max_allocation_per_idea=20), 5, 0, "COIN_004"),
        (Policy(pricing="quadratic", max_allocation_per_idea=20), 1, 16, "COIN_004"),
    ],
)
def test_allocation_policy_refusals(policy: Policy, amount: int, current: int, code: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        ledger.plan_allocation(policy, amount=amount, current_coins=current)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("policy", "amount", "current", "coins", "after", "votes"),
    [
        (LINEAR, 5, 5, 5, 0, 0),
        (LINEAR, 2, 5, 2, 3, 3),
        (QUADRATIC, 1, 25, 9, 16, 4),
        (QUADRATIC, 5, 25, 25, 0, 0),
        (QUADRATIC, 1, 10, 6, 4, 2),  # the coins beyond votes² go back with the first release
    ],
)
def test_plan_release(policy: Policy, amount: int, current: int, coins: int, after: int, votes: int) -> None:
    change = ledger.plan_release(policy, amount=amount, current_coins=current)
    assert (change.coins, change.coins_after, change.votes_after) == (coins, after, votes)


def test_release_refusals() -> None:
    with pytest.raises(RuleViolation) as off:
        ledger.plan_release(Policy(allow_reallocation=False), amount=1, current_coins=5)
    assert off.value.code == "COIN_003"
    with pytest.raises(RuleViolation) as too_much:
        ledger.plan_release(LINEAR, amount=6, current_coins=5)
    assert too_much.value.code == "COIN_001"
    with pytest.raises(RuleViolation) as zero:
        ledger.plan_release(LINEAR, amount=0, current_coins=5)
    assert zero.value.code == "VALIDATION_001"


def test_moves() -> None:
    linear = ledger.plan_move(LINEAR, amount=4, from_coins=10, to_coins=3)
    assert linear.available_delta == 0
    assert (linear.release.coins_after, linear.allocate.coins_after) == (6, 7)
    quadratic = ledger.plan_move(QUADRATIC, amount=2, from_coins=16, to_coins=0)
    assert (quadratic.release.coins, quadratic.allocate.coins, quadratic.available_delta) == (12, 4, 8)
    with pytest.raises(RuleViolation):
        ledger.plan_move(Policy(allow_reallocation=False), amount=1, from_coins=5, to_coins=0)


@pytest.mark.parametrize(
    ("recycling", "outcome", "kind"),
    [
        (True, "accepted", Kind.EXPEND),
        (False, "accepted", Kind.EXPEND),
        (True, "withdrawn", Kind.RECYCLE),
        (True, "rejected", Kind.RECYCLE),
        (False, "withdrawn", Kind.FORFEIT),
        (False, "rejected", Kind.FORFEIT),
    ],
)
def test_closing_kind(recycling: bool, outcome: str, kind: Kind) -> None:
    assert ledger.closing_kind(Policy(allow_recycling=recycling), outcome) == kind  # type: ignore[arg-type]


def test_merged_allocation() -> None:
    assert ledger.merged_allocation(LINEAR, source_coins=5, target_coins=7) == (12, 12)
    assert ledger.merged_allocation(QUADRATIC, source_coins=9, target_coins=16) == (25, 5)
    assert ledger.merged_allocation(QUADRATIC, source_coins=9, target_coins=9) == (18, 4)


@given(st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=15))
def test_quadratic_increments_add_up_to_the_square(steps: list[int]) -> None:
    coins = 0
    for step in steps:
        coins = ledger.plan_allocation(QUADRATIC, amount=step, current_coins=coins).coins_after
    assert coins == sum(steps) ** 2


@given(
    st.sampled_from(["linear", "quadratic"]),
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=0, max_value=30),
)
def test_release_undoes_allocation(pricing: str, amount: int, start_votes: int) -> None:
    policy = Policy(pricing=pricing)  # type: ignore[arg-type]
    start = ledger.cost_of_votes(start_votes, policy.pricing)
    up = ledger.plan_allocation(policy, amount=amount, current_coins=start)
    down = ledger.plan_release(policy, amount=amount, current_coins=up.coins_after)
    assert down.coins == up.coins
    assert down.coins_after == start


@given(st.lists(st.tuples(st.sampled_from(list(Kind)), st.integers(min_value=1, max_value=200)), max_size=60))
def test_every_accepted_sequence_keeps_the_invariant(entries: list[tuple[Kind, int]]) -> None:
    balance = Balance()
    for kind, amount in entries:
        try:
            balance = ledger.apply(balance, kind, amount)
        except RuleViolation:
            continue
        assert balance.consistent
        assert balance.granted == balance.available + balance.allocated + balance.expended


def test_every_policy_combination_plans_consistently() -> None:
    for reallocation, recycling, maximum, minimum, pricing in itertools.product(
        (True, False), (True, False), (None, 10, 50), (1, 3), ("linear", "quadratic")
    ):
        policy = Policy(
            allow_reallocation=reallocation, allow_recycling=recycling, max_allocation_per_idea=maximum,
            min_allocation_amount=minimum, pricing=pricing,  # type: ignore[arg-type]
        )  # fmt: skip
        for amount in range(1, 8):
            try:
                change = ledger.plan_allocation(policy, amount=amount, current_coins=0)
            except RuleViolation as violation:
                assert amount < minimum or (maximum is not None and ledger.cost_of_votes(amount, pricing) > maximum)  # type: ignore[arg-type]
                assert violation.code in {"VALIDATION_001", "COIN_004"}
                continue
            assert change.coins == ledger.cost_of_votes(amount, pricing)  # type: ignore[arg-type]
            assert maximum is None or change.coins_after <= maximum
