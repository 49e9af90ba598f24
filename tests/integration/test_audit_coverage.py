"""State changes outside the campaign/idea/coin domains reach the audit trail too: webhook endpoints,
notification preferences (also through an email's unsubscribe link), maintenance mode, account lockouts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.app import create_app
from coins.settings import Settings
from tests.support.factories import Actors, create_campaign
from tests.support.platforms import register_platform
from tests.support.servers import unique_email

PASSWORD = "Sturdy-Pass-42"


async def trail(db_engine: AsyncEngine, prefix: str) -> list[Any]:
    async with db_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT action, actor_id, entity_type, entity_id, before, after FROM audit_events "
                "WHERE action LIKE :prefix ORDER BY occurred_at, id"
            ),
            {"prefix": prefix + "%"},
        )
        return list(rows)


@pytest.fixture
async def private_client(make_settings: Callable[..., Settings], clean: None) -> Any:
    """Webhook URLs on 127.0.0.1 are refused unless private networks are allowed (local testing only)."""
    settings = make_settings(security={"webhook_allow_private_networks": True})
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def test_webhook_endpoint_changes_are_recorded(
    private_client: AsyncTestClient[Litestar], make_settings: Callable[..., Settings], db_engine: AsyncEngine
) -> None:
    actors = await Actors(private_client, make_settings()).setup()
    await create_campaign(private_client, actors.admin, slug="hooks")
    platform, key = await register_platform(private_client, actors.admin, "Tracker", ["hooks"])
    created = await private_client.post(
        "/api/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["idea.submitted"]}, headers=key
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()["id"]
    changed = await private_client.patch(
        f"/api/webhooks/{endpoint}", json={"events": ["idea.submitted", "idea.status_changed"]}, headers=key
    )
    assert changed.status_code == 200, changed.text
    assert (await private_client.post(f"/api/webhooks/{endpoint}/secret", headers=key)).status_code in (200, 201)
    assert (await private_client.delete(f"/api/webhooks/{endpoint}", headers=key)).status_code == 204

    rows = await trail(db_engine, "webhook.")
    assert [r.action for r in rows] == [
        "webhook.created",
        "webhook.updated",
        "webhook.secret_rolled",
        "webhook.deleted",
    ]
    assert all(r.entity_id == endpoint and r.after["by"] == f"platform {platform['id']}" for r in rows)
    assert rows[1].before["events"] == ["idea.submitted"]
    assert rows[1].after["events"] == ["idea.submitted", "idea.status_changed"]
    assert rows[3].before["url"] == "http://127.0.0.1:9/hook"


async def test_preferences_maintenance_and_lockouts_are_recorded(
    client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine
) -> None:
    actors = await Actors(client, settings).setup()
    email, member = await actors.person("member")
    unchanged = await client.put(
        "/api/notifications/preferences", json={"items": [{"event": "idea_accepted"}]}, headers=member
    )
    assert unchanged.status_code == 200
    assert await trail(db_engine, "notification.") == []  # nothing changed, nothing recorded
    response = await client.put(
        "/api/notifications/preferences",
        json={"items": [{"event": "idea_accepted", "in_app": False, "email_mode": "never"}]},
        headers=member,
    )
    assert response.status_code == 200, response.text
    [row] = await trail(db_engine, "notification.")
    assert row.before["idea_accepted"]["in_app"] is True
    assert row.after["idea_accepted"] == {"in_app": False, "email": "never"}
    assert row.after["via"] == "settings"

    assert (await client.put("/api/admin/maintenance", json={"enabled": True, "message": "Upgrade"},
                             headers=actors.admin)).status_code == 200  # fmt: skip
    assert (
        await client.put("/api/admin/maintenance", json={"enabled": False}, headers=actors.admin)
    ).status_code == 200
    on, off = await trail(db_engine, "maintenance.")
    assert (on.action, on.after["message"], off.action, off.before["enabled"]) == (
        "maintenance.on", "Upgrade", "maintenance.off", True
    )  # fmt: skip
    assert on.actor_id is not None

    victim = unique_email("victim")
    assert (await client.post("/api/auth/register", json={"email": victim, "password": PASSWORD,
                                                          "full_name": "Vic Tim"})).status_code == 201  # fmt: skip
    for _ in range(5):
        await client.post("/api/auth/token", json={"email": victim, "password": "Wrong-Pass-1"})
    [locked] = await trail(db_engine, "user.locked_out")
    assert locked.after["failed_logins"] == 5
    assert locked.actor_id is None
    assert email != victim
