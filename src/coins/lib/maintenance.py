"""Maintenance mode: one flag in Valkey, so every replica honours it on its next request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
