"""htmx through Litestar's plugin: one `Vary` for every HTML answer, whole pages for page changes and history
restores, fragments only for the widgets that ask, and a listener for every event the server raises."""

from __future__ import annotations

import json
import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.settings import Settings
from tests.conftest import PASSWORD, make_admin
from tests.support.coins import make_arena
from tests.support.factories import Actors
from tests.support.forms import csrf_token, log_in
from tests.support.servers import unique_email

VARY = "HX-Request, HX-Target"
HTMX = {"HX-Request": "true"}
HISTORY_RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


@pytest.fixture
async def actors(client: AsyncTestClient[Litestar], settings: Settings) -> Actors:
    return await Actors(client, settings).setup()


async def test_every_html_answer_varies_by_the_htmx_headers(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/", "/login", "/campaigns", "/no/such/page"):
        page = await client.get(path)
        assert page.headers["content-type"].startswith("text/html"), path
        assert page.headers["vary"] == VARY, path
    # A handler's own Vary is kept, and the htmx headers are added to it.
    bell = await client.get("/notifications/count")
    assert bell.headers["vary"] == f"Cookie, {VARY}"
    # JSON and static files do not depend on them.
    assert "vary" not in (await client.get("/api/campaigns")).headers
    assert "HX-Request" not in (await client.get("/static/css/app.css")).headers.get("vary", "")


async def test_history_restore_gets_the_whole_page(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    """Back after a fragment swap pushed the URL: htmx asks the server again (we keep no history cache), and
    what comes back replaces the whole page, so it must be the page, never the fragment."""
    email = unique_email("admin")
    await make_admin(settings, email)
    await log_in(client, email, PASSWORD)
    fragment = await client.get("/admin/users", headers={**HTMX, "HX-Target": "user-table"})
    assert fragment.text.lstrip().startswith('<div id="user-table">')
    restored = await client.get("/admin/users", headers={**HISTORY_RESTORE, "HX-Target": "user-table"})
    assert "<html" in restored.text and "<h1>Users</h1>" in restored.text
    assert restored.headers["vary"] == VARY

    live = await client.get("/admin/system", headers={**HISTORY_RESTORE, "HX-Target": "system-live"})
    assert "<html" in live.text and "<h1>System dashboard</h1>" in live.text

    # An error met while restoring is an error page, not a message for a widget that is not there.
    missing = await client.get("/campaigns/no-such-campaign", headers=HISTORY_RESTORE)
    assert missing.status_code == 404
    assert "<html" in missing.text and "hx-retarget" not in missing.headers


async def test_a_failing_widget_shows_its_message_in_the_message_area(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    arena = await make_arena(client, actors, db_engine)
    await log_in(client, arena.emails[0], PASSWORD)
    failed = await client.get(
        f"/campaigns/{arena.slug}/coins/quote", params={"idea_id": 999_999, "amount": 1}, headers=HTMX
    )
    assert failed.status_code == 404
    assert (failed.headers["hx-retarget"], failed.headers["hx-reswap"]) == ("#messages", "innerHTML")
    assert failed.text.startswith('<p class="flash flash-error"') and "<html" not in failed.text
    assert failed.headers["vary"] == VARY
    # A boosted page change that fails gets the whole error page instead.
    boosted = await client.get("/campaigns/no-such-campaign", headers={**HTMX, "HX-Boosted": "true"})
    assert "<html" in boosted.text and "hx-retarget" not in boosted.headers


async def test_an_htmx_request_that_needs_a_login_navigates_there(client: AsyncTestClient[Litestar]) -> None:
    widget = await client.get("/account", headers=HTMX, follow_redirects=False)
    assert (widget.status_code, widget.headers["hx-redirect"]) == (200, "/login?next=%2Faccount")
    # A history restore ignores HX-Redirect: it follows a redirect.
    restored = await client.get("/account", headers=HISTORY_RESTORE, follow_redirects=False)
    assert (restored.status_code, restored.headers["location"]) == (303, "/login?next=%2Faccount")


async def test_a_boosted_coin_form_is_posted_flashed_and_redirected(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    """The "move coins" form has no hx-post: htmx boosts it (HX-Boosted) and swaps the answer into the body,
    so the answer must be the page (post, flash, redirect), not the allocation widget."""
    arena = await make_arena(client, actors, db_engine)
    await client.post(
        arena.coins_path("allocate"), json={"idea_id": arena.ideas[0], "amount": 20}, headers=arena.members[0]
    )
    await log_in(client, arena.emails[0], PASSWORD)
    page = await client.get(f"/campaigns/{arena.slug}/coins")
    moved = await client.post(
        f"/campaigns/{arena.slug}/coins/reallocate",
        data={"idea_id": str(arena.ideas[0]), "to_idea_id": str(arena.ideas[1]), "amount": "5",
              "next": f"/campaigns/{arena.slug}/coins"},
        headers={**HTMX, "HX-Boosted": "true", "x-csrftoken": csrf_token(page.text)},
        follow_redirects=False,
    )  # fmt: skip
    assert (moved.status_code, moved.headers["location"]) == (303, f"/campaigns/{arena.slug}/coins")
    after = await client.get(moved.headers["location"], headers={**HTMX, "HX-Boosted": "true"})
    assert "<html" in after.text and "You moved 5 to the other idea." in after.text


def _events(header: str) -> list[str]:
    """HX-Trigger holds an event name, names separated by commas, or a JSON object keyed by name."""
    header = header.strip()
    return list(json.loads(header)) if header.startswith("{") else [name.strip() for name in header.split(",")]


async def test_the_event_a_coin_action_raises_refreshes_my_coins(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    arena = await make_arena(client, actors, db_engine)
    await log_in(client, arena.emails[0], PASSWORD)
    page = await client.get(f"/campaigns/{arena.slug}/coins")
    assert "You have not put coins on any idea yet." in page.text and "Move coins to another idea" not in page.text
    allocated = await client.post(
        f"/campaigns/{arena.slug}/coins/allocate",
        data={"idea_id": str(arena.ideas[0]), "amount": "7"},
        headers={**HTMX, "x-csrftoken": csrf_token(page.text)},
    )
    assert allocated.status_code == 200
    events = _events(allocated.headers["hx-trigger"])
    assert events
    for event in events:
        # Something on "My coins" listens for it (from:body: the event bubbles up from the coin form) ...
        listener = re.search(
            rf'<div id="(?P<id>[\w-]+)" hx-get="(?P<url>[^"]+)" hx-trigger="[^"]*\b{event} from:body\b[^"]*"',
            page.text,
        )
        assert listener, f"nothing on the page listens for {event}"
        # ... and what it asks for is itself, up to date: the ledger has the allocation, the move form is there.
        refreshed = await client.get(listener["url"], headers={**HTMX, "HX-Target": listener["id"]})
        assert refreshed.status_code == 200 and "<html" not in refreshed.text
        assert refreshed.text.lstrip().startswith(f'<div id="{listener["id"]}"')
        ledger = refreshed.text.split("My ledger")[1]
        assert "Allocate" in ledger and f"#{arena.ideas[0]}" in ledger
        assert "Move coins to another idea" in refreshed.text
        assert refreshed.headers["vary"] == VARY
