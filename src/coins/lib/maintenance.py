"""Maintenance mode: one flag in Valkey, so every replica honours it on its next request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from coins.lib import audit
from coins.lib.db import commit

if TYPE_CHECKING:
    from uuid import UUID

    from sqlalchemy.ext.asyncio import AsyncSession
    from valkey.asyncio import Valkey

MAINTENANCE_KEY = "coins:maintenance"


@dataclass(frozen=True)
class MaintenanceState:
    enabled: bool
    message: str = ""
    since: str = ""
    by: str = ""

    @classmethod
    def parse(cls, raw: bytes | str | None) -> MaintenanceState:
        if not raw:
            return cls(enabled=False)
        try:
            data: dict[str, Any] = json.loads(raw)
        except ValueError:
            return cls(enabled=True)
        return cls(
            enabled=True,
            message=str(data.get("message", "")),
            since=str(data.get("since", "")),
            by=str(data.get("by", "")),
        )


async def get_maintenance(valkey: Valkey) -> MaintenanceState:
    return MaintenanceState.parse(await valkey.get(MAINTENANCE_KEY))


async def set_maintenance(valkey: Valkey, *, enabled: bool, message: str = "", by: str = "") -> MaintenanceState:
    if not enabled:
        await valkey.delete(MAINTENANCE_KEY)
        return MaintenanceState(enabled=False)
    state = {"message": message, "since": datetime.now(UTC).isoformat(timespec="seconds"), "by": by}
    await valkey.set(MAINTENANCE_KEY, json.dumps(state))
    return MaintenanceState.parse(json.dumps(state))


async def switch_maintenance(
    valkey: Valkey,
    session: AsyncSession,
    *,
    enabled: bool,
    message: str = "",
    by: str,
    actor_id: UUID | None,
) -> MaintenanceState:
    """Switch it for every replica and write the change to the audit trail.

    The flag lives in Valkey and the trail in PostgreSQL, so they cannot share a transaction: the flag goes
    first (it is what matters), and the record follows at once.
    """
    before = await get_maintenance(valkey)
    state = await set_maintenance(valkey, enabled=enabled, message=message, by=by)
    if before.enabled != state.enabled or before.message != state.message:
        audit.record(
            session,
            actor_id=actor_id,
            action="maintenance.on" if state.enabled else "maintenance.off",
            entity_type="system",
            entity_id="maintenance",
            before={"enabled": before.enabled, "message": before.message},
            after={"enabled": state.enabled, "message": state.message, "by": by},
        )
        await commit(session)
    return state
