"""Bearer tokens for scripts: HS256 JWTs that name the user and their security stamp."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from coins.settings import SecuritySettings


class InvalidToken(Exception):
    pass


def issue_access_token(security: SecuritySettings, *, user_id: UUID, stamp: int) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "stamp": stamp,
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(seconds=security.jwt_expiration),
    }
    return jwt.encode(claims, security.jwt_secret_key, algorithm=security.jwt_algorithm)


def read_access_token(security: SecuritySettings, token: str) -> tuple[UUID, int]:
    """Who the token names and their security stamp; InvalidToken if forged, malformed or expired.

    Whether the account is still active and the stamp still current is the caller's check (every request).
    """
    try:
        user_id, stamp, expires_at = _verified_claims(token, security.jwt_secret_key, security.jwt_algorithm)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
    if expires_at <= time.time():
        raise InvalidToken("Signature has expired")
    return user_id, stamp


# A script sends the same token with every request, and checking its signature and claims is a noticeable
# share of a coin request's time.  What a token says never changes once its signature is verified, so the
# result is kept (per secret: a rotated secret finds nothing); the expiry is still checked on every use.
# Failed verifications raise and are not kept.
@functools.lru_cache(maxsize=8192)
def _verified_claims(token: str, secret: str, algorithm: str) -> tuple[UUID, int, float]:
    claims = jwt.decode(token, secret, algorithms=[algorithm], options={"require": ["exp", "iat", "sub"]})
    if claims.get("typ") != "access":
        raise InvalidToken("not an access token")
    return UUID(str(claims["sub"])), int(claims.get("stamp", 0)), float(claims["exp"])
