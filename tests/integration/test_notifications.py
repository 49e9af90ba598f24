"""Notifications in one process: who hears about what on which channel, the centre, preferences, one-click
unsubscribe, coalesced "coins received", the digest's exactly-once claim, and the fan-out's batches.

Jobs are run here by calling what the worker calls (run_fanout, process_coins_received, send_digests);
tests/integration/test_notification_delivery.py runs them in a real worker with a real SMTP server.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from saq.queue import Queue
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from valkey.asyncio import Valkey

from coins.campaigns.locks import lock_campaign_exclusive
from coins.campaigns.models import Campaign
from coins.coins.ledger import Policy
from coins.coins.services.settlement import CoinSettlement
from coins.ideas.models import Idea
from coins.notifications import digest
from coins.notifications.fanout import FANOUT_THRESHOLD, run_fanout
from coins.notifications.notify import notify
from coins.notifications.tokens import make_unsubscribe_token
from coins.notifications.triggers.coins_received import COINS_RECEIVED_DELAY, process_coins_received
from coins.notifications.triggers.ideas import notify_idea_event
from coins.settings import Settings
from coins.wiring import job_queue
from tests.conftest import PASSWORD
from tests.support.factories import Actors, create_campaign
from tests.support.forms import csrf_token, log_in, submit
from tests.support.notifications import (
    add_idea,
    bulk_members,
    emails,
    notifier_session,
    per_recipient,
    told,
    user_id,
)
from tests.support.servers import TEST_SECRET


@pytest.fixture
async def actors(client: AsyncTestClient[Litestar], settings: Settings) -> Actors:
    return await Actors(client, settings).setup()


async def join_draft(db_engine: AsyncEngine, campaign_id: str, *ids: UUID) -> None:
    """Members of a draft campaign (as after accepting invitations), written directly."""
    async with db_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO campaign_members (id, campaign_id, user_id, role, joined_at) "
                "SELECT gen_random_uuid(), CAST(:c AS uuid), u, 'member', now() FROM unnest(CAST(:ids AS uuid[])) u"
            ),
            {"c": campaign_id, "ids": list(ids)},
        )


def unsubscribe_path(row: Any) -> str:
    header = row.headers["List-Unsubscribe"]
    match = re.fullmatch(r"<https?://[^/]+(/notifications/unsubscribe/[^>]+)>", header)
    assert match, header
    return match.group(1)


async def test_activation_reaches_each_member_on_the_channels_they_chose(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    manager_email, manager = await actors.person("manager", "Grace Manager")
    campaign = await create_campaign(client, actors.admin, slug="greener", manager_emails=[manager_email])
    people = {}
    for name in ("plain", "no-app", "no-email", "digest", "nothing"):
        email, auth = await actors.person(name, f"Person {name}")
        people[name] = (email, auth, await user_id(db_engine, email))
    await join_draft(db_engine, campaign["id"], *(p[2] for p in people.values()))
    choices = {
        "no-app": {"in_app": False},
        "no-email": {"email_mode": "never"},
        "digest": {"email_mode": "digest"},
        "nothing": {"in_app": False, "email_mode": "never"},
    }
    for name, change in choices.items():
        response = await client.put(
            "/api/notifications/preferences",
            json={"items": [{"event": "campaign_activated", **change}]},
            headers=people[name][1],
        )
        assert response.status_code == 200, response.text

    assert (await client.post("/api/campaigns/greener/activate", headers=manager)).status_code == 200

    rows = {row.email: row for row in await told(db_engine, event="campaign_activated")}
    assert set(rows) == {people[n][0] for n in ("plain", "no-app", "no-email", "digest")}  # not the actor
    expected = {"plain": (True, "pending"), "no-app": (False, "pending"), "no-email": (True, "none"),
                "digest": (True, "digest")}  # fmt: skip
    for name, (in_app, emailed) in expected.items():
        row = rows[people[name][0]]
        assert (row.in_app, row.emailed) == (in_app, emailed), name
        assert row.title == "“Greener office” has started"
        assert row.link == "/campaigns/greener"
    sent = await emails(db_engine, "campaign_activated")
    assert sorted(m.to_address for m in sent) == sorted([people["plain"][0], people["no-app"][0]])
    for message in sent:
        assert message.status == "outbox"  # no SMTP server configured in this test
        assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe_path(message) in message.body_text
        assert "/campaigns/greener" in message.body_text
        assert "Hello Person " in message.body_text
    # The centre counts only what is shown in the app.
    plain = await client.get("/api/notifications?unread=true", headers=people["plain"][1])
    assert plain.json()["total"] == 1
    hidden = await client.get("/api/notifications", headers=people["no-app"][1])
    assert hidden.json()["total"] == 0


async def test_the_centre_lists_pages_and_marks_read_only_your_own(
    client: AsyncTestClient[Litestar], actors: Actors, settings: Settings, db_engine: AsyncEngine
) -> None:
    email, auth = await actors.person("reader")
    other_email, other = await actors.person("other")
    me, them = await user_id(db_engine, email), await user_id(db_engine, other_email)
    async with notifier_session(settings) as (session, notifier):
        for number in range(5):
            await notify(
                session, notifier, event="coins_rewarded", recipients=[me, them], title=f"Reward {number}", link="/"
            )
        await session.commit()

    page = (await client.get("/api/notifications?limit=2&offset=1", headers=auth)).json()
    assert set(page) == {"items", "total", "limit", "offset", "unread"}
    assert (page["total"], page["limit"], page["offset"], page["unread"]) == (5, 2, 1, 5)
    assert [item["title"] for item in page["items"]] == ["Reward 3", "Reward 2"]  # newest first
    assert (await client.get("/api/notifications?limit=101", headers=auth)).status_code == 422

    theirs = (await client.get("/api/notifications", headers=other)).json()["items"]
    mine = (await client.get("/api/notifications", headers=auth)).json()["items"]
    marked = await client.post("/api/notifications/read", json={"ids": [mine[0]["id"], theirs[1]["id"]]}, headers=auth)
    assert marked.json() == {"updated": 1, "unread": 4}  # someone else's id changes nothing
    unread = (await client.get("/api/notifications?unread=true", headers=auth)).json()
    assert unread["total"] == 4 and all(not item["read"] for item in unread["items"])
    assert (await client.post("/api/notifications/read", json={}, headers=auth)).status_code == 422
    everything = await client.post("/api/notifications/read", json={"all": True}, headers=auth)
    assert everything.json() == {"updated": 4, "unread": 0}
    assert (await client.get("/api/notifications?unread=true", headers=other)).json()["total"] == 5


async def test_pages_click_through_marks_read_and_settings_save(
    client: AsyncTestClient[Litestar], actors: Actors, settings: Settings, db_engine: AsyncEngine
) -> None:
    email, _ = await actors.person("pages", "Page Reader")
    me = await user_id(db_engine, email)
    async with notifier_session(settings) as (session, notifier):
        await notify(session, notifier, event="coins_rewarded", recipients=[me], title="First", link="/campaigns")
        await notify(session, notifier, event="coins_rewarded", recipients=[me], title="Second", link="//evil.example")
        await session.commit()
    assert (
        await client.get("/notifications/count")
    ).text.strip() == '<span class="visually-hidden">Notifications, none unread</span>'
    await log_in(client, email, PASSWORD)
    count = await client.get("/notifications/count")
    assert '<span class="bell-badge" aria-hidden="true">2</span>' in count.text
    page = await client.get("/notifications")
    assert page.status_code == 200
    assert "First" in page.text and "Second" in page.text and "Mark all read" in page.text
    first = next(row for row in await told(db_engine, user_id=me) if row.title == "First")
    opened = await client.get(f"/notifications/{first.id}/open", follow_redirects=False)
    assert (opened.status_code, opened.headers["location"]) == (303, "/campaigns")
    second = next(row for row in await told(db_engine, user_id=me) if row.title == "Second")
    unsafe = await client.get(f"/notifications/{second.id}/open", follow_redirects=False)
    assert unsafe.headers["location"] == "/notifications"  # never an open redirect
    assert "none unread" in (await client.get("/notifications/count")).text

    settings_page = await client.get("/account/notifications")
    assert settings_page.status_code == 200 and "Reward coins" in settings_page.text
    fields = {"_csrf_token": csrf_token(settings_page.text), "email:idea_accepted": "digest"}
    fields.update({f"in_app:{key}": "on" for key in ("idea_accepted", "coins_rewarded")})
    saved = await client.post("/account/notifications", data=fields, follow_redirects=False)
    assert saved.status_code == 303
    async with db_engine.connect() as conn:
        prefs = {
            row.event: (row.in_app, row.email_mode)
            for row in await conn.execute(text("SELECT * FROM notification_preferences WHERE user_id = :u"), {"u": me})
        }
    assert prefs["idea_accepted"] == (True, "digest")
    assert prefs["campaign_activated"] == (False, "immediate")  # unticked: off in the app, email unchanged
    response = await submit(client, "/account/notifications", "/notifications/read-all")
    assert response.status_code == 303


async def test_preferences_api_defaults_changes_and_refusals(client: AsyncTestClient[Litestar], actors: Actors) -> None:
    _, auth = await actors.person("prefs")
    items = {i["event"]: i for i in (await client.get("/api/notifications/preferences", headers=auth)).json()["items"]}
    assert items["idea_accepted"]["email_mode"] == "immediate" and items["idea_accepted"]["in_app"]
    assert items["coins_expended"]["email_mode"] == "digest"
    changed = await client.put(
        "/api/notifications/preferences",
        json={
            "items": [{"event": "idea_accepted", "email_mode": "never"}, {"event": "coins_received", "in_app": False}]
        },
        headers=auth,
    )
    after = {i["event"]: i for i in changed.json()["items"]}
    assert (after["idea_accepted"]["in_app"], after["idea_accepted"]["email_mode"]) == (True, "never")
    assert (after["coins_received"]["in_app"], after["coins_received"]["email_mode"]) == (False, "immediate")
    unknown = await client.put(
        "/api/notifications/preferences", json={"items": [{"event": "nope", "in_app": True}]}, headers=auth
    )
    assert unknown.status_code == 422 and unknown.json()["details"]["fields"] == {"nope": "Unknown event type."}
    bad_mode = await client.put(
        "/api/notifications/preferences",
        json={"items": [{"event": "idea_accepted", "email_mode": "hourly"}]},
        headers=auth,
    )
    assert bad_mode.status_code == 422


async def test_one_click_unsubscribe_needs_no_login_and_can_be_undone(
    client: AsyncTestClient[Litestar], actors: Actors, settings: Settings, db_engine: AsyncEngine
) -> None:
    email, auth = await actors.person("leaver", "Lea Ver")
    me = await user_id(db_engine, email)
    async with notifier_session(settings) as (session, notifier):
        await notify(session, notifier, event="idea_accepted", recipients=[me], title="Accepted!", link="/")
        await session.commit()
    (message,) = await emails(db_engine, "idea_accepted")
    path = unsubscribe_path(message)

    # A mail client's one-click POST: no cookie, no CSRF token, just the RFC 8058 body.
    client.cookies.clear()
    posted = await client.post(
        path, content=b"List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert posted.status_code == 200 and "You are unsubscribed" in posted.text
    prefs = {i["event"]: i for i in (await client.get("/api/notifications/preferences", headers=auth)).json()["items"]}
    assert prefs["idea_accepted"]["email_mode"] == "never"
    assert prefs["idea_accepted"]["in_app"]  # the centre still shows them
    async with notifier_session(settings) as (session, notifier):
        await notify(session, notifier, event="idea_accepted", recipients=[me], title="Accepted again", link="/")
        await session.commit()
    assert len(await emails(db_engine, "idea_accepted")) == 1  # no second email

    # Clicking the link in a browser (GET) works too; it is already off, so nothing to undo.
    again = await client.get(path)
    assert again.status_code == 200 and "Undo" not in again.text
    await client.put(
        "/api/notifications/preferences",
        json={"items": [{"event": "idea_accepted", "email_mode": "digest"}]},
        headers=auth,
    )
    page = await client.get(path)
    assert "Undo" in page.text and 'name="mode:idea_accepted" value="digest"' in page.text
    undo = await client.post(f"{path}/undo", data={"mode:idea_accepted": "digest", "mode:invitation": "never"})
    assert "Emails are back on" in undo.text
    prefs = {i["event"]: i for i in (await client.get("/api/notifications/preferences", headers=auth)).json()["items"]}
    assert prefs["idea_accepted"]["email_mode"] == "digest"
    assert prefs["invitation"]["email_mode"] == "immediate"  # the token only covers its own event type

    forged = make_unsubscribe_token("another-secret-key-of-sufficient-length-0123456789", me, "invitation")
    assert (await client.get(f"/notifications/unsubscribe/{forged}")).status_code == 400
    assert (await client.post("/notifications/unsubscribe/garbage")).status_code == 400
    digest_link = make_unsubscribe_token(TEST_SECRET, me, "digest")
    turned_off = await client.get(f"/notifications/unsubscribe/{digest_link}")
    assert "No more daily digest emails" in turned_off.text
    prefs = {i["event"]: i for i in (await client.get("/api/notifications/preferences", headers=auth)).json()["items"]}
    assert {k for k, v in prefs.items() if v["email_mode"] == "digest"} == set()


async def test_invitations_also_reach_existing_accounts_in_the_app(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    manager_email, manager = await actors.person("manager", "Grace Manager")
    await create_campaign(client, actors.admin, slug="invites", manager_emails=[manager_email])
    known, known_auth = await actors.person("known", "Known Person")
    response = await client.post(
        "/api/campaigns/invites/members",
        json={"emails": [known, "stranger@example.org"], "role": "member"},
        headers=manager,
    )
    assert response.status_code in {200, 201}, response.text
    (row,) = await told(db_engine, event="invitation", user_id=await user_id(db_engine, known))
    assert row.link.startswith("/invitations/") and "Grace Manager invites you" in row.title
    invitations = {m.to_address: m for m in await emails(db_engine, "invitation")}
    assert set(invitations) == {known, "stranger@example.org"}
    assert "List-Unsubscribe" in invitations[known].headers
    assert invitations["stranger@example.org"].headers == {}  # no account: no preferences to point to
    assert row.link in invitations[known].body_text
    # The link in the centre works like the one in the email.
    landing = await client.get(row.link, headers=known_auth)
    assert landing.status_code == 200
    # The manager (an existing account assigned by the admin) heard of it too.
    assert await told(db_engine, event="invitation", user_id=await user_id(db_engine, manager_email))


# Ideas: the listener of the ideas domain's events ----------------------------------


async def idea_status(
    settings: Settings, idea_id: int, target: str, outcome: str | None, actor: UUID, details: dict[str, Any]
) -> None:
    """What IdeaService.change_status does in one transaction: status, coins, then the event."""
    async with notifier_session(settings) as (session, notifier):
        idea = await session.get_one(Idea, idea_id)
        campaign = await session.get_one(Campaign, idea.campaign_id)
        await lock_campaign_exclusive(session, campaign.id)
        await session.execute(text("UPDATE ideas SET status = :s WHERE id = :i"), {"s": target, "i": idea_id})
        if outcome is not None:
            kind, total = await CoinSettlement(session).close_idea(
                campaign_id=campaign.id,
                policy=Policy.of(campaign),
                idea_id=idea_id,
                outcome=outcome,
                actor_id=actor,  # type: ignore[arg-type]
            )
            details = {**details, "coins": total, "settlement": kind.value}
        event = {"competing": "approved", "accepted": "accepted", "rejected": "rejected", "withdrawn": "withdrawn",
                 "in_progress": "started", "complete": "completed"}[target]  # fmt: skip
        await notify_idea_event(session, notifier, event, idea, actor, details)
        await session.commit()


async def test_idea_events_reach_the_submitter_and_the_supporters_with_their_coins(
    client: AsyncTestClient[Litestar], actors: Actors, settings: Settings, db_engine: AsyncEngine
) -> None:
    manager_email, manager = await actors.person("manager")
    campaign = await create_campaign(
        client, actors.admin, slug="ideas", manager_emails=[manager_email], coin_policy={"allow_recycling": True}
    )
    await client.post("/api/campaigns/ideas/activate", headers=manager)
    cast: dict[str, tuple[str, dict[str, str], UUID]] = {}
    for name in ("author", "backer1", "backer2", "bystander"):
        email, auth = await actors.person(name, name.capitalize())
        await client.post("/api/campaigns/ideas/join", headers=auth)
        cast[name] = (email, auth, await user_id(db_engine, email))
    manager_id = await user_id(db_engine, manager_email)
    accepted = await add_idea(db_engine, campaign["id"], cast["author"][2], title="Solar panels")
    withdrawn = await add_idea(db_engine, campaign["id"], cast["author"][2], title="Bike racks")
    for idea, (backer, coins) in [(accepted, ("backer1", 7)), (accepted, ("backer2", 3)), (withdrawn, ("backer1", 4))]:
        response = await client.post(
            "/api/campaigns/ideas/coins/allocate", json={"idea_id": idea, "amount": coins}, headers=cast[backer][1]
        )
        assert response.status_code == 200, response.text
    # The author's own coins on the idea make them a supporter too: one notification each, not two.
    await client.post(
        "/api/campaigns/ideas/coins/allocate", json={"idea_id": accepted, "amount": 1}, headers=cast["author"][1]
    )

    await idea_status(settings, accepted, "accepted", "accepted", manager_id, {"status": "accepted"})
    news = {row.email: row for row in await told(db_engine, event="idea_accepted")}
    assert set(news) == {cast[n][0] for n in ("author", "backer1", "backer2")}  # not the bystander, not the manager
    assert news[cast["author"][0]].title == "“Solar panels” was accepted"
    spent = {row.email: row.title for row in await told(db_engine, event="coins_expended")}
    assert spent == {
        cast["backer1"][0]: "Your coins on “Solar panels” are spent: 7",
        cast["backer2"][0]: "Your coins on “Solar panels” are spent: 3",
        cast["author"][0]: "Your coins on “Solar panels” are spent: 1",
    }
    assert all(row.emailed == "digest" for row in await told(db_engine, event="coins_expended"))  # the default
    assert len(await emails(db_engine, "idea_accepted")) == 3

    await idea_status(settings, accepted, "in_progress", None, manager_id, {"status": "in_progress"})
    await idea_status(settings, accepted, "complete", None, manager_id, {"status": "complete"})
    assert len(await told(db_engine, event="idea_started")) == 3
    assert len(await told(db_engine, event="idea_completed")) == 3

    # Withdrawn by its author: supporters get their coins back and hear so; the author did it themself.
    await idea_status(settings, withdrawn, "withdrawn", "withdrawn", cast["author"][2], {"status": "withdrawn"})
    (back,) = await told(db_engine, event="coins_recycled")
    assert (back.email, back.title) == (cast["backer1"][0], "Your coins on “Bike racks” are back: 4")
    assert "withdrawn" in back.body

    # Rejected while pending, with a reason: only the submitter hears, with the reason in the email.
    pending = await add_idea(db_engine, campaign["id"], cast["author"][2], title="Free lunch", status="pending")
    await idea_status(
        settings, pending, "rejected", "rejected", manager_id, {"status": "rejected", "reason": "Out of budget"}
    )
    (rejected,) = await told(db_engine, event="idea_rejected")
    assert rejected.email == cast["author"][0] and rejected.body == "Reason: Out of budget"
    (mail,) = await emails(db_engine, "idea_rejected")
    assert "Out of budget" in mail.body_text and "Out of budget" in mail.body_html

    # Approved, with the campaign's reward: the author hears of both.
    approved = await add_idea(db_engine, campaign["id"], cast["author"][2], title="Quiet room", status="pending")
    await idea_status(settings, approved, "competing", None, manager_id, {"status": "competing", "reward": 5})
    assert [r.email for r in await told(db_engine, event="idea_approved")] == [cast["author"][0]]
    (reward,) = await told(db_engine, event="coins_rewarded")
    assert reward.title == "You received 5 reward coins in “Greener office”"


async def test_merge_edit_and_mediated_submission(
    client: AsyncTestClient[Litestar], actors: Actors, settings: Settings, db_engine: AsyncEngine
) -> None:
    manager_email, manager = await actors.person("manager")
    campaign = await create_campaign(
        client, actors.admin, slug="mediated", campaign_type="mediated", manager_emails=[manager_email]
    )
    await client.post("/api/campaigns/mediated/activate", headers=manager)
    author_email, author = await actors.person("author")
    backer_email, backer = await actors.person("backer")
    for auth in (author, backer):
        await client.post("/api/campaigns/mediated/join", headers=auth)
    author_id, manager_id = await user_id(db_engine, author_email), await user_id(db_engine, manager_email)
    source = await add_idea(db_engine, campaign["id"], author_id, title="Duplicate")
    target = await add_idea(db_engine, campaign["id"], None, title="Original")
    await client.post("/api/campaigns/mediated/coins/allocate", json={"idea_id": source, "amount": 6}, headers=backer)

    async with notifier_session(settings) as (session, notifier):
        idea = await session.get_one(Idea, source)
        camp = await session.get_one(Campaign, idea.campaign_id)
        await notify_idea_event(session, notifier, "edited", idea, author_id, {"changed": ["tags"]})  # minor: nobody
        await notify_idea_event(session, notifier, "edited", idea, author_id, {"changed": ["title", "tags"]})
        await session.execute(
            text("UPDATE ideas SET status = 'merged', merged_into_id = :t WHERE id = :s"), {"t": target, "s": source}
        )
        moved = await CoinSettlement(session).move_on_merge(
            campaign_id=camp.id, policy=Policy.of(camp), source_id=source, target_id=target, actor_id=manager_id
        )
        await notify_idea_event(
            session, notifier, "merged", idea, manager_id, {"merged_into": target, "coins_moved": moved}
        )
        submitted = await add_idea(db_engine, campaign["id"], author_id, title="Needs review", status="pending")
        new_idea = await session.get_one(Idea, submitted)
        await notify_idea_event(session, notifier, "submitted", new_idea, author_id, {"status": "pending"})
        await session.commit()

    (edited,) = await told(db_engine, event="idea_edited")
    assert edited.email == backer_email and edited.emailed == "digest"
    merged = {row.email: row for row in await told(db_engine, event="idea_merged")}
    assert set(merged) == {author_email, backer_email}
    assert merged[backer_email].title == "“Duplicate” was merged into “Original”"
    assert merged[backer_email].link == f"/ideas/{target}"
    (review,) = await told(db_engine, event="idea_submitted")
    assert review.email == manager_email and "Needs review" in review.title


# Coins received: coalesced ------------------------------------------------------------------------------


@pytest.fixture
async def queue(settings: Settings) -> AsyncIterator[Queue]:
    """The job queue, on this test's event loop (the app's runs on the test client's)."""
    made = job_queue(settings)
    await made.connect()
    yield made
    await made.disconnect()


async def test_coins_received_is_one_updated_notice_and_at_most_one_email_an_hour(
    client: AsyncTestClient[Litestar],
    actors: Actors,
    settings: Settings,
    db_engine: AsyncEngine,
    valkey: Valkey,
    queue: Queue,
) -> None:
    manager_email, manager = await actors.person("manager")
    campaign = await create_campaign(client, actors.admin, slug="coins", manager_emails=[manager_email])
    await client.post("/api/campaigns/coins/activate", headers=manager)
    author_email, author = await actors.person("author", "Ada Author")
    await client.post("/api/campaigns/coins/join", headers=author)
    author_id = await user_id(db_engine, author_email)
    idea = await add_idea(db_engine, campaign["id"], author_id, title="Rain garden")
    backers = []
    for index in range(3):
        _, auth = await actors.person(f"backer{index}")
        await client.post("/api/campaigns/coins/join", headers=auth)
        backers.append(auth)

    async def allocate(auth: dict[str, str], amount: int) -> None:
        response = await client.post(
            "/api/campaigns/coins/coins/allocate", json={"idea_id": idea, "amount": amount}, headers=auth
        )
        assert response.status_code == 200, response.text

    for auth, amount in [(backers[0], 2), (backers[1], 3), (backers[0], 1), (backers[2], 4), (author, 5)]:
        await allocate(auth, amount)
    # The hot path only raised a flag and scheduled one job for the whole burst.
    flag = await valkey.get(f"coins_received:pending:{idea}")  # up, holding the job's scheduled time
    assert flag is not None
    assert time.time() < int(flag) <= time.time() + COINS_RECEIVED_DELAY
    queued = [
        k for k in await valkey.keys("saq:job:coins:*") if b"notice_coins_received" in (await valkey.get(k) or b"")
    ]
    assert len(queued) == 1

    now = datetime.now(UTC)
    async with notifier_session(settings, valkey=valkey, queue=queue) as (session, notifier):
        assert (await process_coins_received(session, notifier, idea, now=now))["status"] == "emailed"
    (notice,) = await told(db_engine, event="coins_received")
    assert (notice.email, notice.data) == (author_email, {"coins": 10, "supporters": 3})  # not the author's own 5
    assert notice.title == "10 coins for “Rain garden”"
    (first_email,) = await emails(db_engine, "coins_received")
    assert first_email.subject == "10 coins for “Rain garden”"

    for auth, amount in [(backers[1], 2), (backers[2], 1)]:
        await allocate(auth, amount)
    async with notifier_session(settings, valkey=valkey, queue=queue) as (session, notifier):
        result = await process_coins_received(session, notifier, idea, now=now + timedelta(minutes=10))
    assert result == {"status": "email later", "coins": 3}
    (notice,) = await told(db_engine, event="coins_received")  # the same notification, grown
    assert (notice.data["coins"], notice.emailed, notice.read_at) == (13, "suppressed", None)
    assert len(await emails(db_engine, "coins_received")) == 1
    follow_up = await valkey.get(f"saq:job:coins:coins_received:follow-up:{idea}")
    assert follow_up is not None  # scheduled for the end of the hour

    async with notifier_session(settings, valkey=valkey, queue=queue) as (session, notifier):
        later = await process_coins_received(session, notifier, idea, now=now + timedelta(minutes=61))
    assert later == {"status": "emailed", "coins": 0}
    second = (await emails(db_engine, "coins_received"))[-1]
    assert second.subject == "3 coins for “Rain garden”"  # only what the first email did not count

    # Read: the next coins start a new notification.
    await client.post("/api/notifications/read", json={"all": True}, headers=author)
    await allocate(backers[0], 1)
    async with notifier_session(settings, valkey=valkey, queue=queue) as (session, notifier):
        await process_coins_received(session, notifier, idea, now=now + timedelta(minutes=70))
    assert [row.data["coins"] for row in await told(db_engine, event="coins_received")] == [13, 1]


# The daily digest ----------------------------------------------------------------------------------------


async def test_digest_goes_out_once_per_user_even_when_workers_race(
    client: AsyncTestClient[Litestar], actors: Actors, settings: Settings, db_engine: AsyncEngine
) -> None:
    people = []
    for index in range(6):
        email, auth = await actors.person(f"digest{index}", f"Reader {index}")
        await client.put(
            "/api/notifications/preferences",
            json={"items": [{"event": "idea_accepted", "email_mode": "digest"}]},
            headers=auth,
        )
        people.append(await user_id(db_engine, email))
    async with notifier_session(settings) as (session, notifier):
        for number in range(3):
            await notify(
                session,
                notifier,
                event="idea_accepted",
                recipients=people,
                title=f"Idea {number} accepted",
                link="/ideas/1",
            )
        await notify(
            session, notifier, event="coins_expended", recipients=people[:2], title="Your 5 coins are spent", link="/"
        )
        await session.commit()
    assert not await emails(db_engine)  # nothing immediate

    async def run() -> int:
        async with notifier_session(settings) as (session, notifier):
            return await digest.send_digests(session, notifier, batch_size=4)

    results = await asyncio.gather(*(run() for _ in range(4)))
    assert sum(results) == 6
    sent = await emails(db_engine, "digest")
    assert len(sent) == 6 and len(per_recipient(sent, "user_id")) == 6
    first = next(m for m in sent if m.user_id == people[0])
    assert first.subject == "Your Coins for Change digest: 4 updates"
    assert "Idea 2 accepted" in first.body_text and "Your 5 coins are spent" in first.body_text
    assert "/notifications/unsubscribe/" in first.headers["List-Unsubscribe"]
    assert {row.emailed for row in await told(db_engine)} == {"sent"}
    assert await asyncio.gather(run(), run()) == [0, 0]  # the same day again: nothing
    async with db_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM digest_runs")) == 6


# Large groups: the request records one fan-out, a job inserts the rows -----------------------------------


async def test_large_groups_are_fanned_out_in_batches_without_duplicates(
    client: AsyncTestClient[Litestar], actors: Actors, settings: Settings, db_engine: AsyncEngine
) -> None:
    manager_email, manager = await actors.person("manager")
    campaign = await create_campaign(client, actors.admin, slug="crowd", manager_emails=[manager_email])
    members = await bulk_members(db_engine, campaign["id"], FANOUT_THRESHOLD + 50, prefix="crowd")
    async with db_engine.begin() as conn:  # one of them wants no email, one nothing at all
        await conn.execute(
            text("INSERT INTO notification_preferences (user_id, event, in_app, email_mode) VALUES "
                 "(:a, 'campaign_activated', true, 'never'), (:b, 'campaign_activated', false, 'never')"),
            {"a": members[0], "b": members[1]},
        )  # fmt: skip
    assert (await client.post("/api/campaigns/crowd/activate", headers=manager)).status_code == 200
    assert not await told(db_engine, event="campaign_activated")  # the request wrote no rows, but:
    async with db_engine.connect() as conn:
        (fanout,) = (await conn.execute(text("SELECT * FROM notification_fanouts"))).all()
    assert (fanout.event, fanout.recipients, fanout.status) == ("campaign_activated", FANOUT_THRESHOLD + 50, "pending")

    async with notifier_session(settings) as (session, notifier):
        progress = await run_fanout(session, notifier, fanout.id, batch_size=100)
    assert (progress.batches, progress.notified, progress.emails, progress.done) == (3, 249, 248, True)
    rows = await told(db_engine, event="campaign_activated")
    assert len(rows) == 249 and len({row.user_id for row in rows}) == 249
    assert len(await emails(db_engine, "campaign_activated")) == 248
    # Run again (a retried job): nothing new.
    async with db_engine.begin() as conn:
        await conn.execute(text("UPDATE notification_fanouts SET status = 'running', cursor = NULL"))
    async with notifier_session(settings) as (session, notifier):
        again = await run_fanout(session, notifier, fanout.id, batch_size=100)
    assert (again.notified, again.emails) == (0, 0)
    assert len(await told(db_engine, event="campaign_activated")) == 249
    async with db_engine.connect() as conn:
        done = (await conn.execute(text("SELECT status, notified, emails FROM notification_fanouts"))).one()
    assert tuple(done) == ("done", 249, 248)


async def test_a_raised_coins_received_flag_is_trusted_until_its_job_is_due(
    valkey: Valkey, queue: Queue, clean: None
) -> None:
    """Two replicas: the first raises the flag and schedules the job; the second learns when it runs."""
    from coins.notifications.triggers.coins_received import RaisedHere, notify_coins_received

    first, second = RaisedHere(), RaisedHere()
    flag = "coins_received:pending:41"
    await notify_coins_received(valkey, queue, idea_id=41, raised_here=first)
    scheduled = int(await valkey.get(flag) or 0)
    assert scheduled > time.time()
    await notify_coins_received(valkey, queue, idea_id=41, raised_here=second)  # "already raised, runs at ..."
    assert second.is_fresh(41, time.time())
    assert not second.is_fresh(41, scheduled - RaisedHere.MARGIN_SECONDS)

    await valkey.delete(flag)  # while trusted, neither replica asks Valkey again
    for replica in (first, second):
        await notify_coins_received(valkey, queue, idea_id=41, raised_here=replica)
    assert await valkey.get(flag) is None
    queued = [
        k for k in await valkey.keys("saq:job:coins:*") if b"notice_coins_received" in (await valkey.get(k) or b"")
    ]
    assert len(queued) == 1  # one job for the burst

    await notify_coins_received(valkey, queue, idea_id=41)  # a caller with no memory always asks
    assert await valkey.get(flag) is not None
