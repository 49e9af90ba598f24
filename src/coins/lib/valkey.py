"""The shared Valkey client: sessions, rate limits, maintenance flag, live updates and the job queue."""

from __future__ import annotations

from valkey.asyncio import Valkey

from coins.settings import Settings


def make_valkey(settings: Settings) -> Valkey:
    client: Valkey = Valkey.from_url(
        settings.redis.url,
        max_connections=settings.redis.max_connections,
        socket_timeout=settings.redis.socket_timeout,
        socket_connect_timeout=settings.redis.socket_timeout,
        health_check_interval=30,
        retry_on_timeout=True,
    )
    return client
