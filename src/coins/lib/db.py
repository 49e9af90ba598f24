"""Database wiring: the advanced-alchemy config, explicit commits, and work that must wait for a commit.

Request handlers never rely on an automatic commit at the end of the request: a commit failing there
would be swallowed while the client already saw success.  Services call `commit(session)`, which also
runs the callbacks registered with `after_commit` (enqueueing jobs, publishing live updates), so a
worker never races the transaction that created its work.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
    async_default_handler_maker,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from litestar.types import Message, Scope

logger = logging.getLogger("coins.db")

AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT = "coins.after_commit"


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the current transaction has committed (dropped if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


async def commit(session: AsyncSession) -> None:
    """Commit, then run the after-commit callbacks; their failures are logged, never raised."""
    await session.commit()
    callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            logger.exception("after-commit callback failed")


async def flush_unique(session: AsyncSession) -> bool:
    """Flush; False when a unique (or other) constraint refused it, after rolling the transaction back.

    The rollback expires every loaded object: a caller that shows a form again must re-read what it shows.
    (A SAVEPOINT would not help here: SQLAlchemy marks the whole session failed when objects added before
    the savepoint fail to flush inside it.)
    """
    try:
        await session.flush()
    except IntegrityError:
        await rollback(session)
        return False
    return True


async def rollback(session: AsyncSession) -> None:
    session.info.pop(_AFTER_COMMIT, None)
    await session.rollback()


def closing_handler(session_scope_key: str) -> Callable[[Message, Scope], Awaitable[None]]:
    """advanced-alchemy's default before-send handler (close the request's session as the response
    starts), except that a connection PostgreSQL just dropped (a restart, a failover) does not turn a
    response that is ready into a 500: closing only rolls back, and the pool discards that connection."""
    close = async_default_handler_maker(session_scope_key=session_scope_key)

    async def handler(message: Message, scope: Scope) -> None:
        try:
            await close(message, scope)
        except Exception as exc:
            from coins.lib.errors import dependency_unavailable

            if not dependency_unavailable(exc):
                raise
            # The broken session stays in this request's scope, which ends with the response; the pool has
            # already discarded its connection.
            logger.warning("closing the request's database session failed: %s", exc)

    return handler


@dataclass(frozen=True)
class DatabaseOptions:
    """The pool and migrations of one process's SQLAlchemy engine (`url` in SQLAlchemy's asyncpg spelling)."""

    url: str
    pool_size: int
    max_overflow: int
    pool_timeout: int
    echo: bool
    migrations: Path


def make_sqlalchemy_config(options: DatabaseOptions) -> SQLAlchemyAsyncConfig:
    config = SQLAlchemyAsyncConfig(
        connection_string=options.url,
        engine_config=EngineConfig(
            pool_size=options.pool_size,
            max_overflow=options.max_overflow,
            pool_timeout=options.pool_timeout,
            pool_pre_ping=True,
            pool_recycle=1800,
            echo=options.echo,
        ),
        session_config=AsyncSessionConfig(expire_on_commit=False, autoflush=False),
        before_send_handler=None,
        alembic_config=AlembicAsyncConfig(
            script_location=str(options.migrations),
            version_table_name="alembic_version",
        ),
        create_all=False,
        set_default_exception_handler=False,
    )
    # Only closes the session: whatever was not committed explicitly is rolled back. Each config has its
    # own scope key (advanced-alchemy makes them unique per process), so the handler is made for it.
    config.before_send_handler = closing_handler(config.session_scope_key)
    return config


@asynccontextmanager
async def standalone_session(config: SQLAlchemyAsyncConfig) -> AsyncIterator[AsyncSession]:
    """A session for jobs and commands, outside any request."""
    async with config.get_session() as session:
        try:
            yield session
        finally:
            session.info.pop(_AFTER_COMMIT, None)
