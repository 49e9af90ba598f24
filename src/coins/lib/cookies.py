"""Tiny cookie helpers for the raw ASGI middlewares (no Request object is built on the hot path)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litestar.types import Scope


def read_cookie(scope: Scope, name: str) -> str | None:
    for header, value in scope["headers"]:
        if header == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is the client's problem, not a 500
                return None
            morsel = jar.get(name)
            if morsel is not None and morsel.value:
                return morsel.value
    return None


def cookie_header(name: str, value: str, *, max_age: int, secure: bool) -> tuple[bytes, bytes]:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
    if secure:
        parts.append("Secure")
    return (b"set-cookie", "; ".join(parts).encode("latin-1"))
