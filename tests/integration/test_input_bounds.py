"""Bounds at the boundary: values no column can hold get a clear error and change nothing.

Each case below answered 500 before the bounds middleware (the value reached PostgreSQL): a NUL byte in a
slug, a query or a name; an integer past 64 bits in `offset`, `min_coins`, an idea id or a notification id;
a line break in a full name that later goes into an email header.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.lib.bounds import INT64_MAX, has_control_characters, int_query_parameters
from tests.support.factories import Actors, campaign_body

HUGE = str(2**64)


def assert_refused(response: Any, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == "VALIDATION_001"
    assert set(body) >= {"error_code", "message", "details", "timestamp", "request_id"}
    assert field in body["details"]["fields"], body


async def _campaign(client: AsyncTestClient[Litestar], actors: Actors) -> tuple[str, dict[str, str]]:
    await actors.setup()
    body = campaign_body()
    created = await client.post("/api/campaigns", json=body, headers=actors.admin)
    assert created.status_code == 201, created.text
    return body["slug"], actors.admin


async def test_nul_bytes_are_refused_in_path_query_and_body(
    client: AsyncTestClient[Litestar], settings: Any, db_engine: AsyncEngine
) -> None:
    actors = Actors(client, settings)
    slug, admin = await _campaign(client, actors)

    assert_refused(await client.get("/api/campaigns/x%00y", headers=admin), 400, "path")
    assert_refused(await client.get(f"/api/campaigns/{slug}/ideas?q=solar%00", headers=admin), 400, "q")
    page = await client.get("/campaigns?q=%00", headers={"Accept": "text/html"})
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]  # a page gets a page
    assert "cannot be accepted" in page.text and "Traceback" not in page.text

    before = (await client.get(f"/api/campaigns/{slug}", headers=admin)).json()
    patched = await client.patch(f"/api/campaigns/{slug}", json={"title": "Green\x00er"}, headers=admin)
    assert_refused(patched, 422, "title")
    assert (await client.get(f"/api/campaigns/{slug}", headers=admin)).json()["title"] == before["title"]

    # A name on the sign-up form (urlencoded) and in the API's JSON.
    signup = await client.post(
        "/api/auth/register", json={"email": "nul@example.org", "full_name": "A\x00B", "password": "Str0ng-Passw0rd!"}
    )
    assert_refused(signup, 422, "full_name")
    async with db_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM users WHERE email = 'nul@example.org'")) == 0


async def test_integers_past_64_bits_are_refused_where_the_route_declares_an_integer(
    client: AsyncTestClient[Litestar], settings: Any
) -> None:
    actors = Actors(client, settings)
    slug, admin = await _campaign(client, actors)

    assert_refused(await client.get(f"/api/campaigns/{slug}/ideas?offset={HUGE}", headers=admin), 400, "offset")
    assert_refused(await client.get(f"/api/campaigns/{slug}/ideas?min_coins={HUGE}", headers=admin), 400, "min_coins")
    huge_id = await client.get(f"/api/ideas/{HUGE}", headers=admin)  # an id no row can have: not found
    assert (huge_id.status_code, huge_id.json()["error_code"]) == (404, "RESOURCE_001")
    marked = await client.post("/api/notifications/read", json={"ids": [int(HUGE)]}, headers=admin)
    assert_refused(marked, 422, "ids[0]")
    # The largest value a bigint holds is fine: it is simply not there.
    assert (await client.get(f"/api/ideas/{INT64_MAX}", headers=admin)).status_code == 404
    # A search for a long number is free text, not an integer: it is searched, not refused.
    searched = await client.get(f"/api/campaigns/{slug}/ideas?q={HUGE}", headers=admin)
    assert searched.status_code == 200, searched.text
    assert searched.json()["total"] == 0


async def test_a_line_break_in_a_name_is_refused(client: AsyncTestClient[Litestar], settings: Any) -> None:
    answer = await client.post(
        "/api/auth/register",
        json={"email": "crlf@example.org", "full_name": "Eve\r\nBcc: all@example.org", "password": "Str0ng-Passw0rd!"},
    )
    assert answer.status_code == 422, answer.text
    assert "full_name" in answer.json()["details"]["fields"]
    actors = Actors(client, settings)
    _, auth = await actors.person("renamer")
    renamed = await client.patch("/api/auth/me", json={"full_name": "Eve\nX"}, headers=auth)
    assert renamed.status_code == 422, renamed.text
    assert (await client.get("/api/auth/me", headers=auth)).json()["full_name"] == "Test Person"


def test_the_integer_parameters_come_from_the_handlers_own_signature(app: Litestar) -> None:
    ideas = next(r for r in app.routes if r.path == "/api/campaigns/{slug:str}/ideas")
    handler = next(h for h in ideas.route_handlers if "GET" in h.http_methods)  # type: ignore[attr-defined]
    integers = int_query_parameters(handler)
    assert {"offset", "limit", "min_coins"} <= integers
    assert "q" not in integers
    assert has_control_characters("a\nb") and has_control_characters("a\x00") and not has_control_characters("Zoë")
