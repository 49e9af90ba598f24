"""Bearer tokens for scripts: HS256 JWTs that name the user and their security stamp."""

from __future__ import annotations

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
    try:
        claims = jwt.decode(
            token,
            security.jwt_secret_key,
            algorithms=[security.jwt_algorithm],
            options={"require": ["exp", "iat", "sub"]},
        )
        if claims.get("typ") != "access":
            raise InvalidToken("not an access token")
        return UUID(str(claims["sub"])), int(claims.get("stamp", 0))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
