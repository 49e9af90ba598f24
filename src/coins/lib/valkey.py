"""The shared Valkey client: sessions, rate limits, maintenance flag, live updates and the job queue."""

from __future__ import annotations

from valkey.asyncio import Valkey


def make_valkey(url: str, *, max_connections: int, socket_timeout: float) -> Valkey:
    client: Valkey = Valkey.from_url(
        url,
        max_connections=max_connections,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=30,
        retry_on_timeout=True,
    )
    return client
