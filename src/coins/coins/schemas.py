from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec


class BalanceRead(msgspec.Struct, kw_only=True):
    granted: int
    available: int
    allocated: int
    expended: int


class AllocateRequest(msgspec.Struct, kw_only=True):
    idea_id: int
    amount: Annotated[int, msgspec.Meta(ge=1, le=1_000_000, description="Coins (linear) or votes (quadratic)")]


class ReleaseRequest(msgspec.Struct, kw_only=True):
    idea_id: int
    amount: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class ReallocateRequest(msgspec.Struct, kw_only=True):
    from_idea_id: int
    to_idea_id: int
    amount: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class AllocationRead(msgspec.Struct, kw_only=True):
    idea_id: int
    title: str
    status: str
    coins: int
    votes: int
    idea_coins: int


class AllocationList(msgspec.Struct, kw_only=True):
    items: list[AllocationRead]
    total: int


class LedgerEntryRead(msgspec.Struct, kw_only=True):
    id: int
    kind: str
    amount: int
    votes: int
    idea_id: int | None
    from_idea_id: int | None
    reason: str
    created_at: datetime


class LedgerPage(msgspec.Struct, kw_only=True):
    items: list[LedgerEntryRead]
    total: int
    limit: int
    offset: int
