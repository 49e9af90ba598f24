"""Which failures count as a dependency being briefly unavailable (503 + Retry-After) rather than a bug (500)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from coins.lib.errors import dependency_unavailable


def wrapped(inner: BaseException) -> RuntimeError:
    outer = RuntimeError("while handling a request")
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        ConnectionRefusedError(111, "Connection refused"),
        OperationalError("SELECT 1", {}, ConnectionResetError()),
        wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_transient(exc: BaseException) -> None:
    assert dependency_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),  # misuse: a bug
        asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
        IntegrityError("INSERT", {}, ValueError("duplicate")),
        KeyError("missing"),
        wrapped(ValueError("bad")),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_not_transient(exc: BaseException) -> None:
    assert not dependency_unavailable(exc)
