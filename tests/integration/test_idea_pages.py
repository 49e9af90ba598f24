"""The idea pages without a browser: the board with its filters (full page, htmx partial, history restore),
the idea page, submitting with preview, similar ideas and the duplicate warning, the approval queue, the
workflow buttons (refusals in place), editing and the version history with diffs, and the live-ranking
messages published after coin operations and status changes.

People are told apart by bearer tokens (pages accept them like a session); forms are posted like a browser
without JavaScript would, with the CSRF token from the page, or like htmx with its headers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine
from valkey.asyncio import Valkey

from coins.lib import live
from coins.settings import Settings
from tests.support.forms import csrf_token
from tests.support.ideas import Cast, allocate, idea_row, make_campaign, make_cast, move, submit

HTMX_LIST = {"HX-Request": "true", "HX-Target": "idea-list"}


@pytest.fixture
async def cast(client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine) -> Cast:
    return await make_cast(client, settings, db_engine)


async def get(cast: Cast, path: str, role: str = "visitor", **headers: str) -> Any:
    """GET as `role`; headers may be given as HX_Request="true" (underscores become dashes)."""
    extra = {name.replace("_", "-"): value for name, value in headers.items()}
    return await cast.client.get(path, headers={**cast.headers(role), **extra}, follow_redirects=False)


async def post_form(cast: Cast, role: str, path: str, data: dict[str, Any] | list[tuple[str, str]]) -> Any:
    """POST like a browser without JavaScript: the CSRF token comes from a page the person can see."""
    page = await get(cast, "/campaigns", role)
    token = csrf_token(page.text)
    fields: dict[str, list[str]] = {"_csrf_token": [token]}
    for name, value in data.items() if isinstance(data, dict) else data:
        fields.setdefault(name, []).append(value)
    return await cast.client.post(path, data=fields, headers=cast.headers(role), follow_redirects=False)


def titles(html: str) -> list[str]:
    """The idea titles of a board, in their order."""
    return re.findall(r'<h3 class="idea-title"><a href="[^"]+">([^<]+)</a>', html)


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+">([^<]+)</p>', html)


async def tag(cast: Cast, slug: str, name: str, *, retired: bool = False) -> str:
    response = await cast.client.post(
        f"/api/campaigns/{slug}/tags", json={"name": name}, headers=cast.headers("manager")
    )
    assert response.status_code == 201, response.text
    tag_id = str(response.json()["id"])
    if retired:
        patched = await cast.client.patch(
            f"/api/campaigns/{slug}/tags/{tag_id}", json={"is_active": False}, headers=cast.headers("manager")
        )
        assert patched.status_code == 200, patched.text
    return tag_id


# The board ------------------------------------------------------------------------------------------------


async def test_board_filters_sorts_pages_and_answers_htmx_with_the_list(cast: Cast) -> None:
    await make_campaign(cast, "office")
    energy, transport, food = [await tag(cast, "office", name) for name in ("Energy", "Transport", "Food")]
    solar = await submit(cast, "office", "Solar panels on the roof", tag_ids=[energy])
    bikes = await submit(cast, "office", "Bike racks at the north entrance", tag_ids=[transport])
    chargers = await submit(cast, "office", "Electric car chargers", tag_ids=[energy, transport], role="member")
    await submit(cast, "office", "Vegetarian Mondays", tag_ids=[food], role="fan")
    done = await submit(cast, "office", "Recycling bins on every floor")
    await allocate(cast, "office", "member", solar["id"], 20)
    await allocate(cast, "office", "fan", solar["id"], 10)
    await allocate(cast, "office", "member", bikes["id"], 10)
    await allocate(cast, "office", "fan", chargers["id"], 5)
    assert (await move(cast, done["id"], "accepted")).status_code == 200
    board = "/campaigns/office/ideas"

    page = await get(cast, board)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "HX-Request" in page.headers["vary"]
    assert "<html" in page.text and ">Ideas</a>" in page.text and 'aria-current="page">Ideas' in page.text
    assert titles(page.text) == [
        "Solar panels on the roof",
        "Bike racks at the north entrance",
        "Electric car chargers",
        "Vegetarian Mondays",
        "Recycling bins on every floor",
    ]
    assert re.search(r'sse-connect="/campaigns/office/live\?since=\d+"', page.text)
    assert 'hx-trigger="sse:ranking"' in page.text and 'hx-get="/campaigns/office/ideas"' in page.text
    assert "/coins/allocate" not in page.text  # visitors see totals, not the control
    assert '<span class="idea-coins" id="idea-coins-{}"><strong>30</strong> coins'.format(solar["id"]) in page.text
    member = await get(cast, board, "member")
    assert member.text.count('action="/campaigns/office/coins/allocate"') == 4  # competing ideas only
    assert "yours: <strong>20</strong>" in member.text

    async def shown(query: str, role: str = "visitor") -> list[str]:
        response = await get(cast, f"{board}?{query}", role)
        assert response.status_code == 200, response.text
        return titles(response.text)

    assert await shown("tag=Energy") == ["Solar panels on the roof", "Electric car chargers"]
    assert await shown("tag=Energy&tag=Transport") == ["Electric car chargers"]  # must have all of them
    assert await shown(f"tag={transport}&tag=energy") == ["Electric car chargers"]  # ids or names, any case
    assert await shown("status=accepted") == ["Recycling bins on every floor"]
    assert await shown("min_coins=6&max_coins=20") == ["Bike racks at the north entrance"]
    assert await shown("q=bike") == ["Bike racks at the north entrance"]
    assert (await shown("sort=newest"))[:2] == ["Recycling bins on every floor", "Vegetarian Mondays"]
    assert (await shown("sort=supporters"))[0] == "Solar panels on the roof"
    assert len(await shown("per_page=500")) == 5  # at most 100 a page: clamped, not refused

    first = await get(cast, f"{board}?per_page=2")
    assert titles(first.text) == ["Solar panels on the roof", "Bike racks at the north entrance"]
    assert "page 1 of 3" in first.text
    assert 'href="/campaigns/office/ideas?per_page=2&amp;page=2"' in first.text
    second = await get(cast, f"{board}?per_page=2&page=2")
    assert titles(second.text) == ["Electric car chargers", "Vegetarian Mondays"]
    assert '<span class="rank" aria-hidden="true">3</span>' in second.text

    # htmx: the list alone, its live-refresh URL the view's canonical one; the filter form's request also
    # gets that URL to push into the history (without the empty fields a GET form sends).
    partial = await get(
        cast, f"{board}?q=&min_coins=&tag=Energy&sort=coins&per_page=25", HX_Trigger="idea-filters", **HTMX_LIST
    )
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<div id="idea-list"') and "<html" not in partial.text
    assert "HX-Request" in partial.headers["vary"]
    assert partial.headers["hx-push-url"] == "/campaigns/office/ideas?tag=Energy"
    assert 'hx-get="/campaigns/office/ideas?tag=Energy"' in partial.text
    refresh = await get(cast, f"{board}?tag=Energy", HX_Trigger="idea-list", **HTMX_LIST)
    assert "hx-push-url" not in refresh.headers  # a live refresh never touches the history
    restore = await get(cast, f"{board}?tag=Energy", HX_Request="true", HX_History_Restore_Request="true")
    assert "<html" in restore.text  # Back with htmx's history: the whole page
    boosted = await get(cast, board, HX_Request="true", HX_Boosted="true")
    assert "<html" in boosted.text

    bad = await get(cast, f"{board}?min_coins=lots")
    assert bad.status_code == 422 and "Enter a whole number." in bad.text
    backwards = await get(cast, f"{board}?min_coins=20&max_coins=5", **HTMX_LIST)
    assert backwards.status_code == 422 and "At least min_coins." in backwards.text
    unknown = await get(cast, f"{board}?tag=Nope")
    assert unknown.status_code == 422 and "No such tag in this campaign: Nope." in unknown.text

    await make_campaign(cast, "secret", campaign_type="closed")
    assert (await get(cast, "/campaigns/secret/ideas", "outsider")).status_code == 404
    assert (await get(cast, "/campaigns/secret/live", "outsider")).status_code == 404
    assert (await get(cast, "/campaigns/secret/ideas", "member")).status_code == 200


# One idea ---------------------------------------------------------------------------------------------------


async def test_idea_page_shows_everything_and_refuses_actions_in_place(
    cast: Cast, settings: Settings, db_engine: AsyncEngine
) -> None:
    await make_campaign(cast, "office")
    energy = await tag(cast, "office", "Energy")
    description = "We need **more** sun.\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2))"
    solar = await submit(cast, "office", "Solar panels on the roof", description, tag_ids=[energy])
    other = await submit(cast, "office", "Solar panels on the car park")
    await allocate(cast, "office", "member", solar["id"], 7)
    path = f"/campaigns/office/ideas/{solar['id']}"

    page = await get(cast, path, "member")
    assert page.status_code == 200 and "HX-Request" in page.headers["vary"]
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<h2 id="idea-title">Solar panels on the roof</h2>' in html
    assert "<strong>more</strong>" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, inert
    assert "<script>alert" not in html and 'href="javascript:' not in html
    assert ">Energy" in html and "by Author Person" in html
    assert "Submitted as <strong>Competing</strong> by Author Person" in html
    assert "<strong>7</strong> coins" in html and "1 supporter" in html and "yours: <strong>7</strong>" in html
    assert 'action="/campaigns/office/coins/allocate"' in html  # the allocation control
    assert f'value="{settings.public_url}{path}"' in html  # the share link, absolute
    assert "Manage this idea" not in html and "Edit the idea" not in html
    manager = (await get(cast, path, "manager")).text
    assert ">Accept</button>" in manager and ">Merge</button>" in manager and ">Approve</button>" not in manager
    assert "Start work" not in manager and "Withdraw" not in manager
    author = (await get(cast, path, "author")).text
    assert "Withdraw my idea" in author and "Edit the idea" in author and ">Accept</button>" not in author

    # A member pressing a manager's button (an old page, a crafted form): the page again, the reason where
    # the buttons are, and nothing changed.
    refused = await post_form(cast, "member", f"{path}/status", {"status": "accepted"})
    assert refused.status_code == 403
    assert re.search(r'id="action-error">\s*<p>Only the campaign&#39;s managers may do that.</p>', refused.text)
    assert '<h2 id="idea-title">Solar panels on the roof</h2>' in refused.text
    not_theirs = await post_form(cast, "member", f"{path}/status", {"status": "withdrawn"})
    assert not_theirs.status_code == 403 and "Only the idea&#39;s author may withdraw it." in not_theirs.text
    assert (await idea_row(cast, solar["id"]))["status"] == "competing"
    no_target = await post_form(cast, "manager", f"{path}/status", {"status": "merged"})
    assert no_target.status_code == 422 and "Choose the idea to merge this one into." in no_target.text

    # The manager merges the look-alike into it: post, flash, redirect; both pages link to each other.
    merged = await post_form(
        cast,
        "manager",
        f"/campaigns/office/ideas/{other['id']}/status",
        {"status": "merged", "merged_into": str(solar["id"])},
    )
    assert (merged.status_code, merged.headers["location"]) == (303, f"/campaigns/office/ideas/{other['id']}")
    after = (await get(cast, merged.headers["location"], "manager")).text
    assert "The idea is merged; its coins moved with it." in flashes(after)
    assert f'Merged into <a href="{path}">#{solar["id"]} Solar panels on the roof</a>' in after
    assert "Competing → <strong>Merged</strong> by Manager Person" in after
    assert (
        f'<a href="/campaigns/office/ideas/{other["id"]}">#{other["id"]} Solar panels on the car park</a>'
        in (await get(cast, path)).text
    )
    accepted = await post_form(cast, "manager", f"{path}/status", {"status": "accepted"})
    assert accepted.status_code == 303
    now = (await get(cast, path, "manager")).text
    assert "Start work" in now and ">Accept</button>" not in now
    assert "coins/allocate" not in now and "its coins no longer move" in now

    # Shared links: the short form redirects to the page; a closed campaign still needs membership.
    short = await get(cast, f"/ideas/{solar['id']}")
    assert (short.status_code, short.headers["location"]) == (303, path)
    await make_campaign(cast, "secret", campaign_type="closed")
    hidden = await submit(cast, "secret", "Secret sauce")
    secret_path = f"/campaigns/secret/ideas/{hidden['id']}"
    visitor = await get(cast, secret_path)
    assert visitor.status_code == 303 and visitor.headers["location"].startswith("/login?next=")
    assert (await get(cast, secret_path, "outsider")).status_code == 404
    assert (await get(cast, f"/ideas/{hidden['id']}", "outsider")).status_code == 404
    assert (await get(cast, secret_path, "fan")).status_code == 200
    assert "Only members of this campaign can open it." in (await get(cast, secret_path, "fan")).text
    wrong_campaign = await get(cast, f"/campaigns/office/ideas/{hidden['id']}", "fan")
    assert (wrong_campaign.status_code, wrong_campaign.headers["location"]) == (303, secret_path)


# Submitting -------------------------------------------------------------------------------------------------


async def test_submit_with_preview_similar_ideas_and_the_duplicate_warning(cast: Cast) -> None:
    await make_campaign(cast, "office")
    energy = await tag(cast, "office", "Energy")
    await tag(cast, "office", "Old stuff", retired=True)
    solar = await submit(cast, "office", "Solar panels on the roof")
    form = await get(cast, "/campaigns/office/ideas/new", "member")
    assert form.status_code == 200
    assert f'name="tag_ids" value="{energy}"' in form.text and "Old stuff" not in form.text  # active tags
    assert 'hx-get="/campaigns/office/ideas/similar" hx-trigger="input changed delay:300ms"' in form.text
    assert 'hx-post="/campaigns/office/ideas/preview"' in form.text

    token = csrf_token(form.text)
    htmx = {**cast.headers("member"), "HX-Request": "true", "x-csrftoken": token}
    preview = await cast.client.post(
        "/campaigns/office/ideas/preview",
        data={
            "description": "**Bold** <script>alert(1)</script> <img src=x onerror=alert(2)> "
            "[x](javascript:alert(3)) [ok](https://example.org)"
        },
        headers=htmx,
    )
    assert preview.status_code == 200 and "HX-Request" in preview.headers["vary"]
    assert "<strong>Bold</strong>" in preview.text
    assert "<script" not in preview.text and "<img" not in preview.text and 'href="javascript:' not in preview.text
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">ok</a>' in preview.text

    similar = await get(cast, "/campaigns/office/ideas/similar?title=solar+panel+on+roofs", "member", HX_Request="true")
    assert "Solar panels on the roof" in similar.text
    assert re.search(r"<strong>\d+%</strong> similar", similar.text)
    assert f'href="/campaigns/office/ideas/{solar["id"]}#allocate-{solar["id"]}">Back this idea instead' in similar.text
    assert "Similar ideas" not in (await get(cast, "/campaigns/office/ideas/similar?title=zzz", "member")).text

    fields = [("title", "Solar panel on roofs"), ("description", "Panels, lots of them."), ("tag_ids", energy)]
    warned = await post_form(cast, "member", "/campaigns/office/ideas/new", fields)
    assert warned.status_code == 422
    assert 'id="duplicate-warning"' in warned.text and "Solar panels on the roof" in warned.text
    assert '<button type="submit" name="confirm_duplicate" value="1">Submit anyway</button>' in warned.text
    assert 'value="Solar panel on roofs"' in warned.text and f'value="{energy}" checked' in warned.text
    assert len((await cast.client.get("/api/campaigns/office/ideas")).json()["items"]) == 1  # nothing yet

    sent = await post_form(cast, "member", "/campaigns/office/ideas/new", [*fields, ("confirm_duplicate", "1")])
    assert sent.status_code == 303
    created = await get(cast, sent.headers["location"], "member")
    assert "Thank you! Your idea is submitted and competing for coins." in flashes(created.text)
    assert "Solar panel on roofs" in created.text and ">Energy" in created.text

    empty = await post_form(
        cast, "member", "/campaigns/office/ideas/new", {"title": "Something new", "description": ""}
    )
    assert empty.status_code == 422
    assert 'aria-invalid="true" aria-describedby="error-description help-description"' in empty.text
    assert "Describe the idea in 1 to 5,000 characters." in empty.text
    outsider = await get(cast, "/campaigns/office/ideas/new", "outsider")
    assert "Join this campaign to submit ideas" in outsider.text and 'name="title"' not in outsider.text
    visitor = await get(cast, "/campaigns/office/ideas/new")
    assert visitor.status_code == 303 and visitor.headers["location"].startswith("/login")


async def test_mediated_ideas_wait_in_the_approval_queue(cast: Cast) -> None:
    await make_campaign(cast, "mediated", campaign_type="mediated")
    sent = await post_form(
        cast, "author", "/campaigns/mediated/ideas/new", {"title": "Standing desks", "description": "For backs."}
    )
    assert sent.status_code == 303
    page = (await get(cast, sent.headers["location"], "author")).text
    assert any("waiting for approval by a manager" in text for text in flashes(page))
    assert "Your idea is waiting for approval" in page
    idea_id = int(sent.headers["location"].rsplit("/", 1)[1])
    assert "Standing desks" not in (await get(cast, "/campaigns/mediated/ideas", "member")).text
    assert (await get(cast, f"/campaigns/mediated/ideas/{idea_id}", "member")).status_code == 404

    board = (await get(cast, "/campaigns/mediated/ideas", "manager")).text
    assert 'href="/campaigns/mediated/ideas/queue"' in board and "Approval queue (1)" in board
    assert (await get(cast, "/campaigns/mediated/ideas/queue", "member")).status_code == 403
    queue = await get(cast, "/campaigns/mediated/ideas/queue", "manager")
    assert queue.status_code == 200 and "Standing desks" in queue.text and "1 idea waiting for approval" in queue.text

    status = f"/campaigns/mediated/ideas/{idea_id}/status"
    no_reason = await post_form(cast, "manager", status, {"status": "rejected", "reason": " ", "from": "queue"})
    assert no_reason.status_code == 422
    assert re.search(rf'id="queue-error-{idea_id}"><p>Give a reason: the author will see it.</p>', no_reason.text)
    assert "Approval queue" in no_reason.text
    approved = await post_form(cast, "manager", status, {"status": "competing", "from": "queue"})
    assert (approved.status_code, approved.headers["location"]) == (303, "/campaigns/mediated/ideas/queue")
    after = (await get(cast, approved.headers["location"], "manager")).text
    assert "The idea is approved: it competes for coins now." in flashes(after)
    assert "No idea is waiting for approval." in after
    assert "Standing desks" in (await get(cast, "/campaigns/mediated/ideas", "member")).text

    second = await submit(cast, "mediated", "Nap pods")
    rejected = await post_form(
        cast, "manager", f"/campaigns/mediated/ideas/{second['id']}/status",
        {"status": "rejected", "reason": "No room for them.", "from": "queue"},
    )  # fmt: skip
    assert rejected.status_code == 303
    author = (await get(cast, f"/campaigns/mediated/ideas/{second['id']}", "author")).text
    assert "This idea was rejected: No room for them." in author
    assert "Reason: No room for them." in author


# Editing and history ---------------------------------------------------------------------------------------


async def test_edit_keeps_versions_and_the_history_page_shows_diffs(cast: Cast) -> None:
    await make_campaign(cast, "office")
    energy = await tag(cast, "office", "Energy")
    idea = await submit(cast, "office", "Solar panels", "Line one.\nLine two.")
    path = f"/campaigns/office/ideas/{idea['id']}"

    form = await get(cast, f"{path}/edit", "author")
    assert form.status_code == 200 and 'value="Solar panels"' in form.text and "Line two." in form.text
    assert 'name="context_id"' not in form.text  # managers only
    saved = await post_form(
        cast, "author", f"{path}/edit",
        [("title", "Solar panels on the roof"), ("description", "Line one.\nLine 2, better."), ("tag_ids", energy)],
    )  # fmt: skip
    assert (saved.status_code, saved.headers["location"]) == (303, path)
    assert "Your changes are saved." in flashes((await get(cast, path, "author")).text)
    invalid = await post_form(cast, "author", f"{path}/edit", {"title": "", "description": "x"})
    assert invalid.status_code == 422 and "Give the idea a title of 1 to 255 characters." in invalid.text
    assert 'id="field-title"' in invalid.text and 'aria-describedby="error-title help-title"' in invalid.text
    manager_form = await get(cast, f"{path}/edit", "manager")
    assert 'name="context_id"' in manager_form.text
    assert (
        await post_form(
            cast, "manager", f"{path}/edit",
            [("title", "Solar panels on the roof"), ("description", "Line one.\nLine 2, better."),
             ("tag_ids", energy), ("context_id", "intranet-7")],
        )
    ).status_code == 303  # fmt: skip
    refused = await get(cast, f"{path}/edit", "member")
    assert refused.status_code == 403
    assert "Only the idea&#39;s author and the campaign&#39;s managers may edit it." in refused.text

    history = await get(cast, f"{path}/history", "member")
    assert history.status_code == 200
    html = history.text
    assert "3 versions, newest first" in html
    assert html.index("Version 3") < html.index("Version 2") < html.index("Version 1")
    assert "changed: title, description, tags" in html and "changed: context" in html
    assert "by Author Person" in html and "by Manager Person" in html
    assert '<span class="diff-line diff-del"><span class="visually-hidden">Removed: </span>-Solar panels</span>' in html
    assert (
        '<span class="diff-line diff-add"><span class="visually-hidden">Added: </span>+Solar panels on the roof</span>'
        in html
    )
    assert "-Line two." in html and "+Line 2, better." in html and "+Energy" in html
    assert "first version" in html
    page = (await get(cast, path)).text
    assert f'href="{path}/history">Version history</a>' in page and "3 versions" in page


# Live ranking messages -------------------------------------------------------------------------------------


@pytest.fixture
async def live_messages(valkey: Valkey) -> AsyncIterator[asyncio.Queue[tuple[str, str]]]:
    """Every message published on a campaign's live channel (`live:campaign:*`) during the test."""
    received: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    pubsub = valkey.pubsub()
    await pubsub.psubscribe(live.CHANNEL_PREFIX + live.campaign_topic("*"))

    async def pump() -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                received.put_nowait((message["channel"].decode(), message["data"].decode()))

    task = asyncio.create_task(pump())
    yield received
    task.cancel()
    await pubsub.aclose()


async def test_coin_operations_and_status_changes_publish_coalesced_ranking_changes(
    cast: Cast, valkey: Valkey, live_messages: asyncio.Queue[tuple[str, str]]
) -> None:
    campaign = await make_campaign(cast, "office")
    channel = live.CHANNEL_PREFIX + live.campaign_topic(campaign["id"])
    idea = await submit(cast, "office", "Solar panels")

    async def next_message() -> tuple[str, str]:
        return await asyncio.wait_for(live_messages.get(), timeout=2.0)

    assert (await next_message())[0] == channel  # the submission itself (events.record, after the commit)
    await allocate(cast, "office", "member", idea["id"], 3)  # the JSON API
    got, stamp = await next_message()
    assert got == channel and abs(int(stamp) - live.now_ms()) < 5_000
    assert int(await valkey.get(live.STAMP_PREFIX + live.campaign_topic(campaign["id"]))) >= int(stamp)
    page = await get(cast, "/campaigns/office/ideas", "fan")
    added = await cast.client.post(
        "/campaigns/office/coins/allocate",  # the page's form, as htmx sends it
        data={"idea_id": str(idea["id"]), "amount": "2"},
        headers={**cast.headers("fan"), "HX-Request": "true", "x-csrftoken": csrf_token(page.text)},
    )
    assert added.status_code == 200
    assert (await next_message())[0] == channel
    refused = await cast.client.post(
        "/api/campaigns/office/coins/allocate",
        json={"idea_id": idea["id"], "amount": 10_000},
        headers=cast.headers("fan"),
    )
    assert refused.status_code == 422
    assert (
        await post_form(cast, "manager", f"/campaigns/office/ideas/{idea['id']}/status", {"status": "accepted"})
    ).status_code == 303
    assert (await next_message())[0] == channel
    await asyncio.sleep(0.4)
    assert live_messages.empty()  # the refused allocation published nothing

    # A burst from one process: 50 changes, a handful of messages (at most one per 250 ms).
    publisher = live.LivePublisher(valkey)
    for _ in range(50):
        publisher.mark("campaign:burst")
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.4)
    await publisher.close()
    burst = [message for message in _drain(live_messages) if message[0] == "live:campaign:burst"]
    assert 1 <= len(burst) <= 4, burst
    assert publisher.published == len(burst)


def _drain(queue: asyncio.Queue[tuple[str, str]]) -> list[tuple[str, str]]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
