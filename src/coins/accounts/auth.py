"""People as callers: the browser-session and bearer-token resolvers (for `coins.lib.auth`), and the guards.

The user row is read on every request, so a role granted or revoked, a deactivation or a password change
takes effect on the very next request of every open session and every token of that user.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import msgspec
from sqlalchemy import select

from coins.accounts.models import User
from coins.accounts.tokens import InvalidToken, read_access_token
from coins.lib.auth import Caller, Resolver
from coins.lib.errors import AuthenticationFailed, PermissionDenied

if TYPE_CHECKING:
    from litestar import Request
    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler
    from litestar.types import Scope

    from coins.lib.sessions import Session
    from coins.settings import SecuritySettings

logger = logging.getLogger("coins.auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Route option: a bearer token's signed claims are enough here, because the route's own database statement
# checks that the account is active and the token current (saves a query on the hottest path).
CLAIMS_ONLY = "token_claims_only"
_users = User.__table__


class CurrentUser(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    email: str
    full_name: str
    is_admin: bool
    is_sponsor: bool
    security_stamp: int
    via: Literal["session", "token"]
    # False when only the bearer token's claims were read (routes whose database work checks the account
    # itself, like the coin operations); names and roles are then unknown.
    verified: bool = True

    @property
    def first_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


async def load_active_user(scope: Scope, user_id: UUID) -> Any:
    engine = scope["app"].state.db_engine
    query = select(
        _users.c.id,
        _users.c.email,
        _users.c.full_name,
        _users.c.is_active,
        _users.c.is_admin,
        _users.c.is_sponsor,
        _users.c.security_stamp,
    ).where(_users.c.id == user_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None or not row.is_active:
        return None
    return row


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def bearer_token_resolver(security: SecuritySettings) -> Resolver:
    """A person's bearer token (`Authorization: Bearer <JWT>` from POST /api/auth/token)."""

    async def resolve(scope: Scope) -> Caller | None:
        token = _bearer_token(scope)
        if token is None:
            return None
        try:
            user_id, stamp = read_access_token(security, token)
        except InvalidToken:
            raise AuthenticationFailed("The access token is invalid or has expired.") from None
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get(CLAIMS_ONLY):
            return Caller(user=CurrentUser(
                id=user_id, email="", full_name="", is_admin=False, is_sponsor=False,
                security_stamp=stamp, via="token", verified=False,
            ))  # fmt: skip
        row = await load_active_user(scope, user_id)
        if row is None or row.security_stamp != stamp:
            raise AuthenticationFailed("The access token is no longer valid.")
        return Caller(user=_current_user(row, "token"))

    return resolve


async def session_resolver(scope: Scope) -> Caller | None:
    """A signed-in browser: the session in Valkey names the user, and the user's stamp must still match."""
    # Scripts must use a token for anything that changes data: a cookie alone could be a forged
    # cross-site request, and the JSON API carries no CSRF token.
    if scope["path"].startswith("/api/") and scope.get("method") not in SAFE_METHODS:
        return None
    session: Session | None = scope.get("state", {}).get("session")
    if session is None or not session.get("user_id"):
        return None
    try:
        user_id = UUID(str(session.get("user_id")))
    except ValueError:
        session.clear()
        return None
    row = await load_active_user(scope, user_id)
    if row is None or row.security_stamp != session.get("stamp"):
        # Deactivated, deleted, or the password changed elsewhere: this session is over.
        session.clear()
        return None
    return Caller(user=_current_user(row, "session"))


async def verified_user(scope: Scope, user: CurrentUser) -> CurrentUser:
    """The full user behind claims-only identity (names, roles), or AuthenticationFailed."""
    if user.verified:
        return user
    row = await load_active_user(scope, user.id)
    if row is None or row.security_stamp != user.security_stamp:
        raise AuthenticationFailed("The access token is no longer valid.")
    return _current_user(row, user.via)


def _current_user(row: Any, via: Literal["session", "token"]) -> CurrentUser:
    return CurrentUser(
        id=row.id,
        email=row.email,
        full_name=row.full_name,
        is_admin=row.is_admin,
        is_sponsor=row.is_sponsor,
        security_stamp=row.security_stamp,
        via=via,
    )


def current_user(request: Request[Any, Any, Any] | ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    user: CurrentUser | None = request.scope.get("user")
    return user


def require_user(request: Request[Any, Any, Any]) -> CurrentUser:
    user = current_user(request)
    if user is None:
        raise AuthenticationFailed("Please log in first.")
    return user


# Guards: async, because Litestar runs synchronous guards in a worker thread (a thread hop per request).


async def login_required(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if current_user(connection) is None:
        raise AuthenticationFailed("Please log in first.")


async def admin_required(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    user = current_user(connection)
    if user is None:
        raise AuthenticationFailed("Please log in first.")
    if not user.is_admin:
        raise PermissionDenied("Only administrators may do that.")


async def sponsor_or_admin_required(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    user = current_user(connection)
    if user is None:
        raise AuthenticationFailed("Please log in first.")
    if not (user.is_admin or user.is_sponsor):
        raise PermissionDenied("Only sponsors and administrators may see this.")
