"""A platform's API key: how it is made, recognised on a request, and checked against the database.

Keys look like `cfc_<43 url-safe characters>` (256 random bits): the prefix makes a leaked key easy to spot
(and to scan for), the randomness makes a plain SHA-256 in the database as good as a slow password hash.
A request carries it as `Authorization: Bearer cfc_...` or `X-API-Key: cfc_...`; the authentication
middleware then puts a `PlatformIdentity` in `scope["auth"]` (and no user: platforms act for themselves,
never for a person).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec
from sqlalchemy import select

from coins.lib.auth import Caller, Resolver
from coins.lib.errors import AuthenticationFailed, PermissionDenied
from coins.platforms.models import Platform

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler
    from litestar.types import Scope

API_KEY_PREFIX = "cfc_"
_platforms = Platform.__table__


class PlatformIdentity(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_hint(key: str) -> str:
    """The first characters, enough to tell keys apart in a list and useless to an attacker."""
    return key[: len(API_KEY_PREFIX) + 4]


def api_key_from(scope: Scope) -> str | None:
    """The platform key of a request: an `X-API-Key` header, or a bearer token with the key prefix."""
    for name, value in scope["headers"]:
        if name == b"x-api-key":
            key = value.decode("latin-1").strip()
            return key or None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token.startswith(API_KEY_PREFIX):
                return token
    return None


async def authenticate_platform(scope: Scope, key: str) -> PlatformIdentity:
    """The platform holding `key`, or AuthenticationFailed (unknown, rotated away or revoked)."""
    if not key.startswith(API_KEY_PREFIX) or len(key) > 200:
        raise AuthenticationFailed("The API key is invalid or has been revoked.")
    query = select(_platforms.c.id, _platforms.c.name).where(
        _platforms.c.key_hash == hash_api_key(key), _platforms.c.revoked_at.is_(None)
    )
    async with scope["app"].state.db_engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise AuthenticationFailed("The API key is invalid or has been revoked.")
    return PlatformIdentity(id=row.id, name=row.name)


def platform_key_resolver(rate_limit_per_minute: int) -> Resolver:
    """A platform's key (`Bearer cfc_...` or `X-API-Key`): the platform acts for itself, never for a person, so
    there is no user; it has its own, larger rate-limit budget."""

    async def resolve(scope: Scope) -> Caller | None:
        api_key = api_key_from(scope)
        if api_key is None:
            return None
        platform = await authenticate_platform(scope, api_key)
        return Caller(auth=platform, rate_bucket=(f"platform:{platform.id}", rate_limit_per_minute))

    return resolve


def current_platform(connection: ASGIConnection[Any, Any, Any, Any]) -> PlatformIdentity | None:
    return platform_of_scope(connection.scope)


def platform_of_scope(scope: Scope) -> PlatformIdentity | None:
    auth = scope.get("auth")
    return auth if isinstance(auth, PlatformIdentity) else None


def require_platform(connection: ASGIConnection[Any, Any, Any, Any]) -> PlatformIdentity:
    platform = current_platform(connection)
    if platform is None:
        raise AuthenticationFailed(
            "This needs a platform API key: `Authorization: Bearer cfc_...` or `X-API-Key: cfc_...`."
        )
    return platform


async def platform_required(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    require_platform(connection)


async def platform_or_admin_required(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if current_platform(connection) is not None:
        return
    user = connection.scope.get("user")
    if user is None:
        raise AuthenticationFailed("This needs the platform's API key or an administrator's token.")
    if not user.is_admin:
        raise PermissionDenied("Only the platform itself (with its API key) and administrators may see this.")
