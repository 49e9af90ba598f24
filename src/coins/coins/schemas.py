from __future__ import annotations

from datetime import datetime

import msgspec


class BalanceRead(msgspec.Struct, kw_only=True):
    granted: int
    available: int
    allocated: int
    expended: int


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
