"""`coins backup` and `coins restore` on a real database: a campaign with members, ideas and coin movements
is backed up, the schema is dropped, and the restore brings back every row (same counts, same ledger
checksum), a clean `coins audit`, and an app that serves the same balances. Retention keeps the newest N.

The database is its own (coins_backup_test) so that dropping its schema disturbs no other test.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from coins.app import create_app
from coins.cli.common import run_migrations
from coins.ops.backup import backup_name, backups_in, prune
from tests.conftest import TABLES, make_settings_for
from tests.support.coins import Arena, make_arena
from tests.support.factories import Actors
from tests.support.servers import PROJECT_ROOT, app_environment

if TYPE_CHECKING:
    from tests.support.servers import TestServers

pytestmark = pytest.mark.system

DATABASE = "coins_backup_test"
CHECKSUMS = {
    "coin_ledger": "SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM coin_ledger t",
    "coin_balances": "SELECT md5(string_agg(t::text, ',' ORDER BY t.campaign_id, t.user_id)) FROM coin_balances t",
    "ideas": "SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM ideas t",
}


def url_for(base: str, database: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


@pytest.fixture(scope="module")
def database_url(servers: TestServers, redis_url: str) -> str:
    async def recreate() -> None:
        admin = create_async_engine(servers.base_database_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
                await conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
        finally:
            await admin.dispose()

    asyncio.run(recreate())
    url = url_for(servers.base_database_url, DATABASE)
    run_migrations(make_settings_for(url, redis_url))
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_async_engine(database_url, pool_size=1)
    yield made
    await made.dispose()


def coins(*args: str, database_url: str, redis_url: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **app_environment(database_url, redis_url)}
    return subprocess.run(
        [sys.executable, "-m", "coins", *args],
        cwd=PROJECT_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def snapshot(engine: AsyncEngine) -> dict[str, object]:
    async with engine.connect() as conn:
        found: dict[str, object] = {
            table: (await conn.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one()
            for table in [*TABLES, "alembic_version"]
        }
        for name, query in CHECKSUMS.items():
            found[f"checksum:{name}"] = (await conn.execute(text(query))).scalar_one()
        found["alembic_version"] = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    return found


async def populate(database_url: str, redis_url: str, engine: AsyncEngine) -> tuple[Arena, list[dict[str, int]]]:
    settings = make_settings_for(database_url, redis_url)
    async with AsyncTestClient(app=create_app(settings)) as client:
        actors = await Actors(client, settings).setup()
        arena = await make_arena(client, actors, engine, slug="backup-arena", members=3, ideas=3)
        first, second, third = arena.ideas
        for index, member in enumerate(arena.members):
            moves = [
                ("allocate", {"idea_id": first, "amount": 10 + index}),
                ("allocate", {"idea_id": second, "amount": 5}),
                ("release", {"idea_id": second, "amount": 2}),
                ("reallocate", {"from_idea_id": first, "to_idea_id": third, "amount": 3}),
            ]
            for step, (operation, body) in enumerate(moves):
                headers = {**member, "Idempotency-Key": f"backup-{index}-{step}"}
                response = await client.post(arena.coins_path(operation), json=body, headers=headers)
                assert response.status_code == 200, response.text
        balances = []
        for member in arena.members:
            response = await client.get(arena.coins_path("balance"), headers=member)
            assert response.status_code == 200
            balances.append(response.json())
    return arena, balances


async def test_backup_wipe_restore(database_url: str, redis_url: str, engine: AsyncEngine, tmp_path: Path) -> None:
    arena, balances = await populate(database_url, redis_url, engine)
    before = await snapshot(engine)
    assert before["campaigns"] == 1 and before["ideas"] == 3 and before["campaign_members"] >= 4
    assert before["coin_ledger"] >= 3 + 3 * 4  # grants, then four movements per member

    made = coins("backup", "--dir", str(tmp_path), database_url=database_url, redis_url=redis_url)
    assert made.returncode == 0, made.stdout + made.stderr
    [dump] = backups_in(tmp_path)
    assert f"Backed up to {dump}" in made.stdout
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".partial")]

    # Wipe: the whole schema, tables, functions, extensions and all.
    await engine.dispose()
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
    async with engine.connect() as conn:
        left = (await conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))).scalar_one()
    assert left == 0

    # Without --yes it asks, and a "no" changes nothing.
    refused = coins("restore", str(dump), database_url=database_url, redis_url=redis_url, stdin="n\n")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Replace every table in database 'coins_backup_test'" in refused.stdout
    async with engine.connect() as conn:
        assert (
            await conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
        ).scalar_one() == 0

    restored = coins("restore", str(dump), "--yes", database_url=database_url, redis_url=redis_url)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    await engine.dispose()
    assert await snapshot(engine) == before

    audit = coins("audit", database_url=database_url, redis_url=redis_url)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "No differences." in audit.stdout

    # The app works on the restored data as before: the same balances, and coins still move.
    settings = make_settings_for(database_url, redis_url)
    async with AsyncTestClient(app=create_app(settings)) as client:
        for member, balance in zip(arena.members, balances, strict=True):
            response = await client.get(arena.coins_path("balance"), headers=member)
            assert response.status_code == 200, response.text
            assert response.json() == balance
        moved = await client.post(
            arena.coins_path("allocate"),
            json={"idea_id": arena.ideas[0], "amount": 1},
            headers=arena.members[0],
        )
        assert moved.status_code == 200, moved.text

    # Restoring over a live schema (not wiped) works too: --clean replaces what is there.
    again = coins("restore", str(dump), "--yes", database_url=database_url, redis_url=redis_url)
    assert again.returncode == 0, again.stdout + again.stderr
    await engine.dispose()
    assert await snapshot(engine) == before

    # Retention: a second backup with --keep 1 leaves only itself.
    newer = coins("backup", "--dir", str(tmp_path), "--keep", "1", database_url=database_url, redis_url=redis_url)
    assert newer.returncode == 0, newer.stdout + newer.stderr
    [kept] = backups_in(tmp_path)
    assert kept != dump and kept.name > dump.name
    assert f"Removed old backup {dump.name}" in newer.stdout


def test_retention_keeps_the_newest(tmp_path: Path) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    names = [backup_name(start + timedelta(hours=h)) for h in range(20)]
    for name in reversed(names):  # creation order must not matter, only the timestamp in the name
        (tmp_path / name).write_bytes(b"PGDMP")
    (tmp_path / "notes.txt").write_text("not a backup")
    removed = prune(tmp_path, 14)
    assert sorted(p.name for p in removed) == names[:6]
    assert [p.name for p in backups_in(tmp_path)] == names[6:]
    assert (tmp_path / "notes.txt").exists()
    with pytest.raises(Exception, match="at least 1"):
        prune(tmp_path, 0)
