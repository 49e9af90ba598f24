"""Data for tests, made through the real API (so every rule applies) with a few direct shortcuts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from coins.settings import Settings
from tests.conftest import make_admin, register, token_for
from tests.support.servers import unique_email


class Actors:
    """Tokens for the usual cast: an admin, and people registered on demand."""

    def __init__(self, client: AsyncTestClient[Litestar], settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.admin_email = ""
        self.admin: dict[str, str] = {}

    async def setup(self) -> Actors:
        self.admin_email = unique_email("admin")
        await make_admin(self.settings, self.admin_email)
        self.admin = await self.auth(self.admin_email)
        return self

    async def auth(self, email: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await token_for(self.client, email)}"}

    async def person(self, prefix: str = "user", name: str = "Test Person") -> tuple[str, dict[str, str]]:
        email = unique_email(prefix)
        await register(self.client, email=email, name=name)
        return email, await self.auth(email)


def campaign_body(slug: str | None = None, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "slug": slug or f"campaign-{unique_email('x').split('@')[0].split('-')[1]}",
        "title": "Greener office",
        "description": "Ideas to **cut** our footprint.",
        "campaign_type": "open",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "coin_policy": {"initial_allocation": 100},
        "manager_emails": [],
    }
    body.update(overrides)
    return body


async def create_campaign(client: AsyncTestClient[Litestar], admin: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/campaigns", json=campaign_body(**overrides), headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
