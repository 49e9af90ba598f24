"""The per-idea gate in front of the coin function: width, one acquisition order, nothing left behind."""

from __future__ import annotations

import asyncio

from coins.coins.gateway import IdeaGates


async def test_at_most_width_operations_per_idea_and_others_pass() -> None:
    gates = IdeaGates(width=2)
    inside: dict[int, int] = {1: 0, 2: 0}
    most: dict[int, int] = {1: 0, 2: 0}

    async def operation(idea: int) -> None:
        async with gates.enter(None, idea):
            inside[idea] += 1
            most[idea] = max(most[idea], inside[idea])
            await asyncio.sleep(0.01)
            inside[idea] -= 1

    await asyncio.gather(*(operation(1) for _ in range(10)), *(operation(2) for _ in range(3)))
    assert most == {1: 2, 2: 2}
    assert not gates._gates and not gates._users  # forgotten once nobody holds or waits


async def test_two_ideas_in_opposite_order_cannot_deadlock() -> None:
    gates = IdeaGates(width=1)

    async def reallocate(take: int, put: int) -> None:
        async with gates.enter(take, put):
            await asyncio.sleep(0.005)

    await asyncio.wait_for(asyncio.gather(*(reallocate(1, 2) if n % 2 else reallocate(2, 1) for n in range(20))), 5)
    assert not gates._gates


async def test_a_cancelled_waiter_leaves_the_gate_usable() -> None:
    gates = IdeaGates(width=1)
    holder_in = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with gates.enter(7):
            holder_in.set()
            await release.wait()

    held = asyncio.create_task(holder())
    await holder_in.wait()
    waiter = asyncio.create_task(gates.enter(7).__aenter__())
    await asyncio.sleep(0.01)
    waiter.cancel()
    release.set()
    await held
    async with gates.enter(7):
        pass
    assert not gates._gates
