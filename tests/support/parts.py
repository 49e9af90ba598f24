"""The process's parts for tests that call services directly (as a command or a job would): the real wiring,
so every listener (coins, notifications, webhooks, the audit trail) runs as in the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from coins.lib.db import standalone_session
from coins.settings import Settings
from coins.wiring import Runtime, standalone


@asynccontextmanager
async def service_session(settings: Settings) -> AsyncIterator[tuple[AsyncSession, Runtime]]:
    async with standalone(settings) as parts, standalone_session(parts.db) as session:
        yield session, parts
