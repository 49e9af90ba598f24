"""Who is calling, decided once per request by the credential resolvers the app was built with.

Each resolver looks for one kind of credential (a platform's API key, a bearer token, a browser session) and
answers with the caller, raises AuthenticationFailed for a credential that is present but wrong, or passes
(None) to the next one.  The first answer wins; nobody answering means a visitor.  The resolvers belong to the
domains that own the credentials (accounts, platforms); this middleware knows none of them.

The caller ends up in `scope["user"]` (a person, or None) and `scope["auth"]` (what acted when no person did:
a platform).  A resolver may also name the rate-limit bucket of the request (`rate_bucket`) with its own
budget; the request gate counts it there instead of per user or address.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

RATE_BUCKET = "coins.rate_bucket"


@dataclass(frozen=True)
class Caller:
    user: Any = None
    auth: Any = None
    # (bucket, requests per minute): a budget of the caller's own, e.g. a platform's key.
    rate_bucket: tuple[str, int] | None = None


Resolver = Callable[["Scope"], Awaitable[Caller | None]]


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp, resolvers: Sequence[Resolver]) -> None:
        self.app = app
        self.resolvers = tuple(resolvers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        caller = Caller()
        for resolve in self.resolvers:
            found = await resolve(scope)
            if found is not None:
                caller = found
                break
        scope["user"] = caller.user
        if caller.auth is not None:
            scope["auth"] = caller.auth
        if caller.rate_bucket is not None:
            scope.setdefault("state", {})[RATE_BUCKET] = caller.rate_bucket
        await self.app(scope, receive, send)


def rate_bucket_of(scope: Scope) -> tuple[str, int] | None:
    bucket: tuple[str, int] | None = scope.get("state", {}).get(RATE_BUCKET)
    return bucket
