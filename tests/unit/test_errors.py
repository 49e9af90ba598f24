"""Which failures count as a dependency being briefly unavailable (503 + Retry-After) rather than a bug (500),
and which are the caller's values refused by the database (422)."""

from __future__ import annotations

import asyncpg
import asyncpg.exceptions as asyncpg_errors
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from coins.lib.errors import _normalise, dependency_unavailable


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


@pytest.mark.parametrize(
    "raised",
    [
        asyncpg_errors.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00'),
        asyncpg_errors.NumericValueOutOfRangeError("value out of range for type bigint"),
    ],
)
def test_a_value_the_database_refuses_is_a_validation_error_not_a_500(raised: Exception) -> None:
    # As SQLAlchemy raises it: the driver's error is the cause of the wrapper.
    wrapped = DBAPIError("INSERT ...", {}, raised)
    wrapped.__cause__ = raised
    for exc in (raised, wrapped):
        error = _normalise(exc)
        assert error.error_code == "VALIDATION_001"
        assert error.status_code == 422
        assert "NUL" in error.message
