"""Fixtures: real PostgreSQL and Valkey for the whole run, the real migrations, the production app factory.

Every test that touches data starts from empty tables and an empty Valkey (TRUNCATE and FLUSHDB are
faster than re-creating the schema and, unlike a wrapping transaction, let the app commit for real).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from advanced_alchemy.base import metadata_registry
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from valkey.asyncio import Valkey

import coins.models  # noqa: F401  (every table on the metadata)
from coins.app import create_app
from coins.cli.common import run_migrations
from coins.settings import Settings, load_settings
from tests.support.servers import (
    TEST_JWT_SECRET,
    TEST_SECRET,
    TestServers,
    app_environment,
    start_test_servers,
    unique_email,
)

TEST_DATABASE = "coins_test"


@pytest.fixture(scope="session")
def servers() -> Iterator[TestServers]:
    started = start_test_servers()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def database_url(servers: TestServers) -> str:
    """A fresh database built by the real migrations (never `create_all`)."""
    if servers.postgres is not None:
        servers.postgres._psql(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
        servers.postgres.create_database(TEST_DATABASE)
        url = servers.postgres.url_for(TEST_DATABASE)
    else:
        url = servers.base_database_url
    run_migrations(make_settings_for(url, servers.redis_url))
    return url


@pytest.fixture(scope="session")
def redis_url(servers: TestServers) -> str:
    return servers.redis_url


def make_settings_for(database_url: str, redis_url: str, **overrides: Any) -> Settings:
    environ = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": TEST_SECRET,
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
    }
    return load_settings(environ, overrides=overrides)


@pytest.fixture(scope="session")
def make_settings(database_url: str, redis_url: str) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        return make_settings_for(database_url, redis_url, **overrides)

    return factory


@pytest.fixture(scope="session")
def app_env(database_url: str, redis_url: str) -> Callable[..., dict[str, str]]:
    """Environment for app processes started by system and browser tests."""

    def factory(**extra: str) -> dict[str, str]:
        return app_environment(database_url, redis_url, **extra)

    return factory


@pytest.fixture(scope="session")
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def valkey(redis_url: str) -> AsyncIterator[Valkey]:
    client = Valkey.from_url(redis_url)
    yield client
    await client.aclose()


TABLES = [table.name for table in metadata_registry.get(None).sorted_tables]


@pytest.fixture
async def clean(db_engine: AsyncEngine, valkey: Valkey) -> None:
    """Empty tables and Valkey before the test (not after: a failing test leaves evidence to look at)."""
    async with db_engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    await valkey.flushdb()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def app(settings: Settings, clean: None) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


# Helpers for tests that need accounts ---------------------------------------------------------------------

PASSWORD = "Sturdy-Pass-42"


@pytest.fixture
def new_email() -> Callable[[str], str]:
    return unique_email


async def register(
    client: AsyncTestClient[Litestar],
    *,
    email: str | None = None,
    name: str = "Ada Lovelace",
    password: str = PASSWORD,
) -> dict[str, Any]:
    response = await client.post(
        "/api/auth/register", json={"email": email or unique_email(), "password": password, "full_name": name}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def token_for(client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD) -> str:
    response = await client.post("/api/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def make_admin(settings: Settings, email: str, password: str = PASSWORD) -> None:
    from coins.accounts.services.administration import UserAdministration
    from tests.support.parts import service_session

    async with service_session(settings) as (session, parts):
        await UserAdministration(session, parts.events).ensure_admin(email=email, password=password)
