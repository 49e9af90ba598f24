"""Platforms through the JSON API and the pages: keys and their scope, permalinks, contexts, rate limits.

The app runs in-process (AsyncTestClient) on the real schema; no worker is needed here (webhook deliveries
are queued, and tested in test_webhooks.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.app import create_app
from coins.settings import Settings
from tests.conftest import PASSWORD
from tests.support.factories import Actors, create_campaign
from tests.support.forms import csrf_token, log_in
from tests.support.platforms import (
    key_auth,
    linked_campaign,
    post_form,
    register_platform,
    submit_through_permalink,
)
from tests.support.servers import unique_email


@pytest.fixture
async def actors(client: AsyncTestClient[Litestar], settings: Settings) -> Actors:
    return await Actors(client, settings).setup()


async def table_text(db_engine: AsyncEngine, table: str) -> str:
    """Every row of a table as text: what someone with a copy of the database would read."""
    async with db_engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT t::text FROM {table} AS t"))
        return "\n".join(row[0] for row in rows)


async def test_keys_are_scoped_rotated_revoked_and_never_stored_in_clear(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    campaign = await linked_campaign(client, actors, "wiki-ideas")
    await linked_campaign(client, actors, "other-ideas", tags=())
    wiki, wiki_key = await register_platform(client, actors.admin, "Wiki", ["wiki-ideas"])
    forum, forum_key = await register_platform(client, actors.admin, "Forum", ["wiki-ideas"])
    assert wiki["api_key"].startswith("cfc_") and len(wiki["api_key"]) >= 40
    assert wiki["campaigns"] == ["wiki-ideas"] and "api_key" not in (await client.get(
        f"/api/platforms/{wiki['id']}", headers=actors.admin
    )).json()  # fmt: skip

    # Only admins register platforms; nobody else learns the keys.
    _, someone = await actors.person("someone")
    assert (
        await client.post("/api/platforms", json={"name": "X", "owner_email": "x@example.org"}, headers=someone)
    ).status_code == 403
    assert (await client.get("/api/permalinks")).status_code == 401
    assert (await client.get("/api/permalinks", headers=someone)).status_code == 401

    me = await client.get("/api/platforms/me", headers={"X-API-Key": wiki["api_key"]})
    assert me.json() == {"id": wiki["id"], "name": "Wiki", "campaigns": ["wiki-ideas"]}

    made = await client.post(
        "/api/permalinks",
        json={"campaign": "wiki-ideas", "context_id": "page-42", "tags": ["mobility"], "title": "Bike racks"},
        headers=wiki_key,
    )
    assert made.status_code == 201, made.text
    permalink = made.json()
    assert permalink["url"].startswith("http") and "/p/" in permalink["url"]
    assert len(permalink["url"].rsplit("/", 1)[1]) >= 10
    assert permalink["tags"] == [{"id": campaign.tags["Mobility"], "name": "Mobility"}]
    # Rules: the platform's campaigns only (404, as for a campaign that does not exist), URL-safe contexts,
    # http(s) return addresses, the campaign's active tags.
    for body, status, code in [
        ({"campaign": "other-ideas", "context_id": "page-1"}, 404, "CAMPAIGN_001"),
        ({"campaign": "no-such-campaign", "context_id": "page-1"}, 404, "CAMPAIGN_001"),
        ({"campaign": "wiki-ideas", "context_id": "a/b"}, 422, "VALIDATION_001"),
        ({"campaign": "wiki-ideas", "context_id": "p", "return_url": "javascript:alert(1)"}, 422, "VALIDATION_001"),
        ({"campaign": "wiki-ideas", "context_id": "p", "tags": ["Unknown"]}, 422, "VALIDATION_001"),
    ]:
        refused = await client.post("/api/permalinks", json=body, headers=wiki_key)
        assert (refused.status_code, refused.json()["error_code"]) == (status, code), (body, refused.text)

    # One platform never sees another's permalinks, contexts or webhooks: 404, not 403.
    assert (await client.get("/api/permalinks", headers=forum_key)).json()["total"] == 0
    assert (await client.get(f"/api/permalinks/{permalink['id']}", headers=forum_key)).status_code == 404
    assert (await client.delete(f"/api/permalinks/{permalink['id']}", headers=forum_key)).status_code == 404
    own_context = await client.get("/api/contexts/page-42/ideas", headers=wiki_key)
    assert own_context.status_code == 200 and own_context.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    foreign = await client.get("/api/contexts/page-42/ideas", headers=forum_key)
    assert (foreign.status_code, foreign.json()["error_code"]) == (404, "CONTEXT_001")
    hook = await client.post(
        "/api/webhooks", json={"url": "https://hooks.example.org/coins", "events": ["idea.submitted"]}, headers=wiki_key
    )
    assert hook.status_code == 201, hook.text
    secret = hook.json()["secret"]
    assert secret.startswith("whsec_")
    hook_id = hook.json()["id"]
    for path in (f"/api/webhooks/{hook_id}", f"/api/webhooks/{hook_id}/deliveries"):
        assert (await client.get(path, headers=forum_key)).status_code == 404
        assert (await client.get(path, headers=someone)).status_code == 403
        assert (await client.get(path, headers=wiki_key)).status_code == 200
        assert (await client.get(path, headers=actors.admin)).status_code == 200  # admins read the log too
    assert (await client.post(f"/api/webhooks/{hook_id}/test", headers=forum_key)).status_code == 404
    assert (await client.delete(f"/api/webhooks/{hook_id}", headers=forum_key)).status_code == 404
    assert (await client.get("/api/webhooks", headers=forum_key)).json()["total"] == 0
    # Keys read contexts and manage links and webhooks; ideas are submitted by people.
    by_key = await client.post(
        "/api/campaigns/wiki-ideas/ideas", json={"title": "t", "description": "d"}, headers=wiki_key
    )
    assert by_key.status_code == 401

    # Keys and webhook secrets are never stored in clear; the key's SHA-256 is.
    platforms_table = await table_text(db_engine, "platforms")
    for key in (wiki["api_key"], forum["api_key"]):
        assert key not in platforms_table
        assert key[4:] not in platforms_table
        assert hashlib.sha256(key.encode()).hexdigest() in platforms_table
    assert secret not in await table_text(db_engine, "webhook_endpoints")
    assert wiki["api_key"] not in await table_text(db_engine, "audit_events")

    # Rotation: a new key, shown once; the old one is refused at once.
    rotated = await client.post(f"/api/platforms/{wiki['id']}/rotate-key", headers=actors.admin)
    assert rotated.status_code == 200
    new_key = rotated.json()["api_key"]
    assert new_key != wiki["api_key"]
    old = await client.get("/api/permalinks", headers=wiki_key)
    assert (old.status_code, old.json()["error_code"]) == (401, "AUTH_001")
    assert (await client.get("/api/permalinks", headers={"X-API-Key": wiki["api_key"]})).status_code == 401
    assert (await client.get("/api/permalinks", headers=key_auth(new_key))).json()["total"] == 1

    # Revocation: the key is refused; a revoked platform's key cannot be rotated back to life.
    assert (await client.post(f"/api/platforms/{forum['id']}/revoke", headers=actors.admin)).json()["revoked"] is True
    assert (await client.get("/api/permalinks", headers=forum_key)).status_code == 401
    assert (await client.post(f"/api/platforms/{forum['id']}/rotate-key", headers=actors.admin)).status_code == 409
    # Deleting a permalink: the link stops working.
    assert (await client.delete(f"/api/permalinks/{permalink['id']}", headers=key_auth(new_key))).status_code == 204
    assert (await client.get(f"/p/{permalink['url'].rsplit('/', 1)[1]}")).status_code == 404


async def test_permalink_journey_keeps_the_draft_and_the_context(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    await linked_campaign(client, actors, "wiki-ideas")
    await linked_campaign(client, actors, "invite-only", campaign_type="closed", tags=())
    wiki, wiki_key = await register_platform(client, actors.admin, "Wiki", ["wiki-ideas", "invite-only"])
    _, forum_key = await register_platform(client, actors.admin, "Forum", ["wiki-ideas"])
    made = await client.post(
        "/api/permalinks",
        json={
            "campaign": "wiki-ideas", "context_id": "page-42", "tags": ["Mobility"], "title": "Bike racks",
            "description": "By the *north* door.", "return_url": "https://wiki.example.org/page?id=42#ideas",
        },
        headers=wiki_key,
    )  # fmt: skip
    token = made.json()["url"].rsplit("/", 1)[1]
    # The forum links the same context name into the same campaign: still its own context.
    await client.post("/api/permalinks", json={"campaign": "wiki-ideas", "context_id": "page-42"}, headers=forum_key)

    # A visitor without an account sees the context and a short sign-up.
    landing = await client.get(f"/p/{token}")
    assert landing.status_code == 200
    assert "Your idea will be linked to: <strong>page-42</strong> from <strong>Wiki</strong>" in landing.text
    assert 'action="/p/' + token + '/signup"' in landing.text
    # They write before signing up (the form was open in another tab): the text is kept in the session.
    kept = await client.post(
        f"/p/{token}",
        data={"_csrf_token": csrf_token(landing.text), "title": "Covered bike racks", "description": "Rain!"},
        follow_redirects=False,
    )
    assert (kept.status_code, kept.headers["location"]) == (303, f"/p/{token}")
    weak = await post_form(
        client, f"/p/{token}", f"/p/{token}/signup", {"full_name": "Pat", "email": unique_email(), "password": "short"}
    )
    assert weak.status_code == 422 and "at least 8 characters" in weak.text
    signed_up = await post_form(
        client,
        f"/p/{token}",
        f"/p/{token}/signup",
        {"full_name": "Pat", "email": unique_email("pat"), "password": PASSWORD},
    )
    assert (signed_up.status_code, signed_up.headers["location"]) == (303, f"/p/{token}")
    form = await client.get(f"/p/{token}")
    assert 'value="Covered bike racks"' in form.text and ">Rain!</textarea>" in form.text
    assert "You will join this campaign when you submit" in form.text
    assert "Your idea will be linked to: <strong>page-42</strong>" in form.text

    submitted = await client.post(
        f"/p/{token}",
        data={"_csrf_token": csrf_token(form.text), "title": "Covered bike racks", "description": "Rain!"},
        follow_redirects=False,
    )
    assert submitted.status_code == 303, submitted.text
    idea_id = int(submitted.headers["location"].rsplit("/", 1)[1])
    done = await client.get(submitted.headers["location"])
    assert done.status_code == 200
    assert f'href="https://wiki.example.org/page?id=42&amp;idea_id={idea_id}#ideas"' in done.text
    assert "You joined “Greener office”. Your idea is submitted." in done.text
    async with db_engine.connect() as conn:
        row = (await conn.execute(text("SELECT context_id, source FROM ideas WHERE id = :i"), {"i": idea_id})).one()
    assert tuple(row) == ("page-42", "permalink")
    # The done page is the author's own: nobody else's idea shows there.
    assert (await client.get(f"/p/{token}/ideas/{idea_id + 1000}")).status_code == 404

    # The pre-filled defaults, for the next visitor.
    second = await submit_through_permalink(client, token, email=unique_email("sam"))
    assert second != idea_id

    # A member submitting through the API with the same context_id is not the platform's.
    _, member = await actors.person("member")
    await client.post("/api/campaigns/wiki-ideas/join", headers=member)
    other = await client.post(
        "/api/campaigns/wiki-ideas/ideas",
        json={"title": "Unrelated", "description": "x", "context_id": "page-42"},
        headers=member,
    )
    assert other.status_code == 201
    listed = (await client.get("/api/contexts/page-42/ideas", headers=wiki_key)).json()
    assert [i["id"] for i in listed["items"]] == [second, idea_id]
    first = listed["items"][1]
    assert {k: first[k] for k in ("title", "status", "coins", "supporters", "context_id", "campaign")} == {
        "title": "Covered bike racks", "status": "competing", "coins": 0, "supporters": 0,
        "context_id": "page-42", "campaign": "wiki-ideas",
    }  # fmt: skip
    assert first["url"].endswith(f"/ideas/{idea_id}")
    assert (await client.get("/api/contexts/page-42/ideas", headers=forum_key)).json()["total"] == 0
    paged = (await client.get("/api/contexts/page-42/ideas?limit=1&offset=1", headers=wiki_key)).json()
    assert (paged["total"], [i["id"] for i in paged["items"]]) == (2, [idea_id])

    # A closed campaign still needs an invitation, with a clear message.
    closed = await client.post("/api/permalinks", json={"campaign": "invite-only", "context_id": "x"}, headers=wiki_key)
    closed_page = await client.get(f"/p/{closed.json()['url'].rsplit('/', 1)[1]}")
    assert closed_page.status_code == 403
    assert "by invitation only" in closed_page.text
    assert "Invite-only" not in closed_page.text

    # The admin takes the campaign away from the wiki: its links close and its contexts there are no longer
    # its to read (before, both kept working).  The forum, still allowed, is not affected.
    moved = await client.patch(
        f"/api/platforms/{wiki['id']}", json={"campaigns": ["invite-only"]}, headers=actors.admin
    )
    assert moved.status_code == 200, moved.text
    assert (await client.get(f"/p/{token}")).status_code == 404
    assert (await client.get("/api/contexts/page-42/ideas", headers=wiki_key)).status_code == 404
    links = (await client.get("/api/permalinks", headers=wiki_key)).json()
    assert [item["campaign"] for item in links["items"]] == ["invite-only"]
    assert (await client.get("/api/permalinks", headers=forum_key)).json()["total"] == 1


async def test_managers_make_permalinks_in_their_campaign(
    client: AsyncTestClient[Litestar], actors: Actors, settings: Settings
) -> None:
    manager_email, _ = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="team-ideas", manager_emails=[manager_email])
    platform, _ = await register_platform(client, actors.admin, "Wiki", ["team-ideas"])
    await log_in(client, manager_email, PASSWORD)
    page = await client.get("/campaigns/team-ideas/permalinks")
    assert page.status_code == 200 and "Wiki" in page.text
    bad = await post_form(
        client, "/campaigns/team-ideas/permalinks", "/campaigns/team-ideas/permalinks", {"context_id": "no spaces"}
    )
    assert bad.status_code == 422 and "letters, digits" in bad.text
    made = await post_form(
        client, "/campaigns/team-ideas/permalinks", "/campaigns/team-ideas/permalinks",
        {"context_id": "room-7", "platform_id": platform["id"], "title": "Room 7"},
    )  # fmt: skip
    assert made.status_code == 303
    listing = await client.get("/campaigns/team-ideas/permalinks")
    assert "room-7" in listing.text and "/p/" in listing.text
    # Not a manager: no such page for them.
    client.cookies = httpx.Cookies()
    outsider_email, _ = await actors.person("outsider")
    await log_in(client, outsider_email, PASSWORD)
    assert (await client.get("/campaigns/team-ideas/permalinks")).status_code in {403, 404}


async def test_each_platform_has_its_own_rate_limit(
    make_settings: Callable[..., Settings], clean: None, settings: Settings
) -> None:
    app = create_app(make_settings(security={"rate_limit_per_minute": 0, "platform_rate_limit_per_minute": 3}))
    async with AsyncTestClient(app=app) as client:
        actors = await Actors(client, settings).setup()
        _, first = await register_platform(client, actors.admin, "First", [])
        _, second = await register_platform(client, actors.admin, "Second", [])
        answers = [await client.get("/api/permalinks", headers=first) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["x-ratelimit-limit"] == "3"
        assert answers[3].json()["error_code"] == "RATE_001" and answers[3].headers["retry-after"]
        assert (await client.get("/api/permalinks", headers=second)).status_code == 200
        # People are not counted against a platform, nor a platform against people (that limit is off here).
        assert (await client.get("/api/platforms", headers=actors.admin)).status_code == 200


async def test_admins_manage_platforms_in_the_admin_section(client: AsyncTestClient[Litestar], actors: Actors) -> None:
    await linked_campaign(client, actors, "wiki-ideas", tags=())
    await log_in(client, actors.admin_email, PASSWORD)
    listing = await client.get("/admin/platforms")
    assert listing.status_code == 200 and 'href="/admin/platforms" aria-current="page">Platforms' in listing.text
    registered = await post_form(
        client, "/admin/platforms", "/admin/platforms",
        {"name": "Team wiki", "owner_email": "wiki@example.org", "campaigns": ["wiki-ideas"]},
    )  # fmt: skip
    assert registered.status_code == 200, registered.text
    assert registered.headers["cache-control"] == "no-store"
    key = re.search(r'value="(cfc_[\w-]+)"', registered.text)
    assert key, registered.text
    me = await client.get("/api/platforms/me", headers={"X-API-Key": key[1]})
    assert me.json()["campaigns"] == ["wiki-ideas"]
    platform_id = me.json()["id"]
    duplicate = await post_form(
        client, "/admin/platforms", "/admin/platforms", {"name": "Team wiki", "owner_email": "x@example.org"}
    )
    assert duplicate.status_code == 422 and "Another platform has this name" in duplicate.text

    hook = await client.post(
        "/api/webhooks",
        json={"url": "https://hooks.example.org/c", "events": ["idea.submitted"]},
        headers=key_auth(key[1]),
    )
    detail_page = f"/admin/platforms/{platform_id}"
    tested = await post_form(client, detail_page, f"/admin/webhooks/{hook.json()['id']}/test", {})
    assert (tested.status_code, tested.headers["location"]) == (303, detail_page)
    detail = await client.get(detail_page)
    assert "A test event is on its way to https://hooks.example.org/c" in detail.text
    assert "webhook.test" in detail.text and "pending" in detail.text

    rotated = await post_form(client, detail_page, f"{detail_page}/rotate", {})
    new_key = re.search(r'value="(cfc_[\w-]+)"', rotated.text)
    assert new_key and new_key[1] != key[1] and "The previous key has stopped working." in rotated.text
    assert (await client.get("/api/platforms/me", headers=key_auth(key[1]))).status_code == 401
    assert (await client.get("/api/platforms/me", headers=key_auth(new_key[1]))).status_code == 200
    revoked = await post_form(client, detail_page, f"{detail_page}/revoke", {})
    assert revoked.status_code == 303
    assert (await client.get("/api/platforms/me", headers=key_auth(new_key[1]))).status_code == 401
    assert "is revoked" in (await client.get(detail_page)).text

    docs = await client.get("/docs/integrators")
    assert docs.status_code == 200
    assert "curl -s -X POST http://testserver.local/api/permalinks" in docs.text
    assert "Coins-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex&gt;" in docs.text
