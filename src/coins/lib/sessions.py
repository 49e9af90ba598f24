"""Server-side browser sessions in Valkey.

The cookie holds only a random id; the data lives in Valkey under a hash of that id, so every replica
sees the same session and a leaked Valkey dump does not hand out live cookies.  Sessions are written
only when they change, the id is replaced on log-in (no fixation), and each user's session ids are
indexed so that a password change or deactivation can end all of them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType

from coins.lib.cookies import cookie_header, read_cookie

if TYPE_CHECKING:
    from litestar import Request
    from litestar.types import ASGIApp, Message, Receive, Scope, Send
    from valkey.asyncio import Valkey

COOKIE_NAME = "coins_session"
_FLASH = "_flash"


def _key(session_id: str) -> str:
    return "session:" + hashlib.sha256(session_id.encode()).hexdigest()


def _user_index(user_id: str) -> str:
    return f"user_sessions:{user_id}"


class Session:
    """The session of one request.  Mutations mark it dirty; the middleware persists it once."""

    def __init__(self, session_id: str | None, data: dict[str, Any]) -> None:
        self.id = session_id
        self.data = data
        self.dirty = False
        self.previous_id: str | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.dirty = True

    def pop(self, key: str, default: Any = None) -> Any:
        if key in self.data:
            self.dirty = True
        return self.data.pop(key, default)

    def flash(self, message: str, category: str = "info") -> None:
        self.data.setdefault(_FLASH, []).append({"category": category, "message": message})
        self.dirty = True

    def pop_flashes(self) -> list[dict[str, str]]:
        flashes: list[dict[str, str]] = self.data.pop(_FLASH, [])
        if flashes:
            self.dirty = True
        return flashes

    def regenerate(self) -> None:
        """New id, same data: called on log-in so a planted id is worthless."""
        if self.id:
            self.previous_id = self.id
        self.id = None
        self.dirty = True

    def clear(self) -> None:
        if self.id:
            self.previous_id = self.id
        self.id = None
        self.data = {}
        self.dirty = True


class SessionStore:
    def __init__(self, valkey: Valkey, max_age: int) -> None:
        self.valkey = valkey
        self.max_age = max_age

    async def load(self, session_id: str) -> dict[str, Any] | None:
        raw = await self.valkey.get(_key(session_id))
        if raw is None:
            return None
        loaded = json.loads(raw)
        return loaded if isinstance(loaded, dict) else None

    async def save(self, session_id: str, data: dict[str, Any]) -> None:
        pipe = self.valkey.pipeline(transaction=False)
        pipe.set(_key(session_id), json.dumps(data), ex=self.max_age)
        if user_id := data.get("user_id"):
            pipe.sadd(_user_index(user_id), _key(session_id))
            pipe.expire(_user_index(user_id), self.max_age)
        await pipe.execute()

    async def delete(self, session_id: str) -> None:
        await self.valkey.delete(_key(session_id))

    async def delete_all_for_user(self, user_id: str, *, keep: str | None = None) -> None:
        """End every session of a user (password changed, account deactivated), except `keep`."""
        index = _user_index(user_id)
        members: set[bytes] = await self.valkey.smembers(index)  # type: ignore[misc]
        keys = [k.decode() if isinstance(k, bytes) else k for k in members]
        keep_key = _key(keep) if keep else None
        doomed = [k for k in keys if k != keep_key]
        if doomed:
            pipe = self.valkey.pipeline(transaction=False)
            pipe.delete(*doomed)
            pipe.srem(index, *doomed)
            await pipe.execute()


class SessionMiddleware:
    def __init__(self, app: ASGIApp, *, secure: bool = False) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        store: SessionStore = scope["app"].state.session_store
        session_id = read_cookie(scope, COOKIE_NAME)
        data = await store.load(session_id) if session_id else None
        session = Session(session_id if data is not None else None, data or {})
        if session_id and data is None:
            # A stale cookie: forget it so the browser stops sending it.
            session.previous_id = session_id
            session.dirty = True
        scope.setdefault("state", {})["session"] = session

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start" and session.dirty:
                headers = list(message.get("headers", []))
                if session.previous_id:
                    await store.delete(session.previous_id)
                if session.data:
                    if session.id is None:
                        session.id = secrets.token_urlsafe(32)
                    await store.save(session.id, session.data)
                    headers.append(cookie_header(COOKIE_NAME, session.id, max_age=store.max_age, secure=self.secure))
                else:
                    headers.append(cookie_header(COOKIE_NAME, "", max_age=0, secure=self.secure))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_session)


def get_session(request: Request[Any, Any, Any]) -> Session:
    session: Session | None = request.scope.get("state", {}).get("session")
    if session is None:  # routes excluded from the middleware (static files, probes)
        session = Session(None, {})
    return session


def flash(request: Request[Any, Any, Any], message: str, category: str = "info") -> None:
    get_session(request).flash(message, category)
