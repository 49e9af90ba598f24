"""Rate limits and maintenance mode, decided with one Valkey round trip per request.

Counters live in Valkey, so the limit is shared by every replica: per user when signed in, in the caller's
own bucket when its credential names one (a platform's API key), per client address otherwise, and a
stricter per-address limit on the log-in and sign-up forms and endpoints.
Fixed one-minute windows keep it to an INCR and an EXPIRE.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from litestar.enums import ScopeType

from coins.lib.auth import rate_bucket_of
from coins.lib.errors import Maintenance, RateLimited
from coins.lib.maintenance import MAINTENANCE_KEY, MaintenanceState

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

EXEMPT_PREFIXES = ("/health", "/ready", "/metrics", "/static/", "/favicon.ico")
# Reachable during maintenance so an admin can log in and switch it off.
MAINTENANCE_OPEN_PREFIXES = (*EXEMPT_PREFIXES, "/login", "/logout", "/api/auth/token")
AUTH_ENDPOINTS = frozenset(
    {
        "/login",
        "/signup",
        "/password/forgot",
        "/api/auth/token",
        "/api/auth/register",
        "/api/auth/password-reset",
    }
)
# The short sign-up on the way through a permalink counts as a sign-up.
PERMALINK_SIGNUP = re.compile(r"^/p/[^/]+/signup$")


def client_address(scope: Scope, trusted_proxy_count: int) -> str:
    """The caller's address: behind N trusted proxies, the Nth entry from the right of X-Forwarded-For."""
    if trusted_proxy_count > 0:
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                hops = [hop.strip() for hop in value.decode("latin-1").split(",") if hop.strip()]
                if len(hops) >= trusted_proxy_count:
                    return hops[-trusted_proxy_count]
                if hops:
                    return hops[0]
    client = scope.get("client")
    return client[0] if client else "unknown"


@dataclass(frozen=True)
class RateLimits:
    """Requests per minute (0: no limit) and how many proxies in front of us append to X-Forwarded-For."""

    per_minute: int
    auth_per_minute: int
    trusted_proxy_count: int


class RequestGateMiddleware:
    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        limits = self.limits
        user = scope.get("user")
        own_bucket = rate_bucket_of(scope)
        is_auth_endpoint = scope["method"] == "POST" and (
            scope["path"] in AUTH_ENDPOINTS or PERMALINK_SIGNUP.match(scope["path"]) is not None
        )
        if is_auth_endpoint:
            limit = limits.auth_per_minute
            bucket = f"auth:{client_address(scope, limits.trusted_proxy_count)}"
        elif own_bucket is not None:
            # A budget of the caller's own (a platform's key), shared by every replica like the others.
            bucket, limit = own_bucket
        else:
            limit = limits.per_minute
            bucket = (
                f"user:{user.id}" if user is not None else f"addr:{client_address(scope, limits.trusted_proxy_count)}"
            )

        count = 0
        if limit:
            window = int(time.time() // 60)
            key = f"ratelimit:{bucket}:{window}"
            pipe = state.valkey.pipeline(transaction=False)
            pipe.get(MAINTENANCE_KEY)
            pipe.incr(key)
            pipe.expire(key, 61, nx=True)
            raw_maintenance, count, _ = await pipe.execute()
        else:
            # Read on every request (no local cache): a switch made through any replica applies at once.
            raw_maintenance = await state.valkey.get(MAINTENANCE_KEY)
        maintenance = MaintenanceState.parse(raw_maintenance)
        if (
            maintenance.enabled
            and not (user is not None and user.is_admin)
            and not scope["path"].startswith(MAINTENANCE_OPEN_PREFIXES)
        ):
            raise Maintenance(maintenance.message or None, headers={"Retry-After": "120"})

        if not limit:
            await self.app(scope, receive, send)
            return
        count = int(count)
        retry_after = str(60 - int(time.time()) % 60)
        if count > limit:
            raise RateLimited(
                details={"limit": limit, "window_seconds": 60},
                headers={
                    "Retry-After": retry_after,
                    "X-RateLimit-Limit": str(limit),
                    "X-RateLimit-Remaining": "0",
                },
            )

        remaining = str(max(0, limit - count)).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-ratelimit-limit", str(limit).encode()))
                headers.append((b"x-ratelimit-remaining", remaining))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
