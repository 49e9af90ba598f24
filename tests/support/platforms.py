"""Platforms for tests: registered through the API, a campaign to link into, a real HTTP receiver for
webhooks, and the permalink journey through the pages (as a browser without JavaScript does it)."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from uuid import UUID

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from coins.lib.db import standalone_session
from coins.platforms.webhooks import delivery as webhook_delivery
from coins.settings import Settings
from coins.wiring import database_config, make_mailer, template_env
from tests.conftest import PASSWORD
from tests.support.factories import Actors, create_campaign
from tests.support.forms import csrf_token
from tests.support.servers import PROJECT_ROOT


def load_example(name: str) -> ModuleType:
    """A script from examples/ as a module (they are not a package)."""
    path = PROJECT_ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"examples_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def key_auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def register_platform(
    client: AsyncTestClient[Litestar], admin: dict[str, str], name: str, campaigns: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(the registration answer, headers with the platform's key)"""
    response = await client.post(
        "/api/platforms",
        json={
            "name": name,
            "owner_email": f"owner-{name.lower().replace(' ', '-')}@example.org",
            "campaigns": campaigns,
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body, key_auth(body["api_key"])


@dataclass
class LinkedCampaign:
    slug: str
    id: str
    manager: dict[str, str]
    tags: dict[str, str]  # name -> id


async def linked_campaign(
    client: AsyncTestClient[Litestar],
    actors: Actors,
    slug: str,
    *,
    campaign_type: str = "open",
    tags: tuple[str, ...] = ("Mobility", "Energy"),
    activate: bool = True,
) -> LinkedCampaign:
    manager_email, manager = await actors.person("manager")
    created = await create_campaign(
        client, actors.admin, slug=slug, campaign_type=campaign_type, manager_emails=[manager_email]
    )
    tag_ids = {}
    for name in tags:
        made = await client.post(f"/api/campaigns/{slug}/tags", json={"name": name}, headers=manager)
        assert made.status_code == 201, made.text
        tag_ids[name] = made.json()["id"]
    if activate:
        activated = await client.post(f"/api/campaigns/{slug}/activate", headers=manager)
        assert activated.status_code == 200, activated.text
    return LinkedCampaign(slug=slug, id=created["id"], manager=manager, tags=tag_ids)


async def post_form(client: AsyncTestClient[Litestar], page: str, action: str, data: dict[str, Any]) -> httpx.Response:
    """GET `page` for its CSRF token, then POST `data` (lists become repeated fields) to `action`."""
    form_page = await client.get(page)
    assert form_page.status_code in {200, 403}, form_page.text
    fields = {"_csrf_token": csrf_token(form_page.text), **data}
    return await client.post(action, data=fields, follow_redirects=False)


def form_values(page: str) -> dict[str, Any]:
    """What a browser would send from the idea form as it is: the pre-filled title, description and tags."""
    title = re.search(r'id="field-title"[^>]*?value="([^"]*)"', page)
    description = re.search(r'<textarea id="field-description"[^>]*>([^<]*)</textarea>', page)
    return {
        "title": html.unescape(title[1]) if title else "",
        "description": html.unescape(description[1]) if description else "",
        "tag_ids": re.findall(r'name="tag_ids" value="([^"]+)" checked', page),
    }


async def submit_through_permalink(
    client: AsyncTestClient[Litestar],
    token: str,
    *,
    email: str,
    name: str = "Pat Permalink",
    title: str | None = None,
    description: str | None = None,
    tag_ids: list[str] | None = None,
) -> int:
    """A visitor without an account: short sign-up on the way, then the (pre-filled) form; the idea's id."""
    client.cookies = httpx.Cookies()
    signed_up = await post_form(
        client, f"/p/{token}", f"/p/{token}/signup", {"full_name": name, "email": email, "password": PASSWORD}
    )
    assert signed_up.status_code == 303, signed_up.text
    form = await client.get(f"/p/{token}")
    assert form.status_code == 200, form.text
    prefilled = form_values(form.text)
    data: dict[str, Any] = {
        "_csrf_token": csrf_token(form.text),
        "title": prefilled["title"] if title is None else title,
        "description": prefilled["description"] if description is None else description,
        "tag_ids": prefilled["tag_ids"] if tag_ids is None else tag_ids,
    }
    submitted = await client.post(f"/p/{token}", data=data, follow_redirects=False)
    assert submitted.status_code == 303, submitted.text
    location = submitted.headers["location"]
    assert location.startswith(f"/p/{token}/ideas/"), location
    return int(location.rsplit("/", 1)[1])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 answering webhook POSTs with scripted statuses (then `default`)."""

    statuses: list[int] = field(default_factory=list)
    default: int = 200
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/coins"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def receiver_fixture() -> Callable[[], Iterator[Receiver]]:
    def fixture() -> Iterator[Receiver]:
        receiver = Receiver().start()
        yield receiver
        receiver.stop()

    return fixture


async def run_delivery(settings: Settings, delivery_id: str | UUID, *, final: bool = False) -> webhook_delivery.Outcome:
    """One attempt, as the worker's `deliver_webhook` task makes it (without the worker around it)."""
    config = database_config(settings)
    try:
        async with standalone_session(config) as session:
            mailer = make_mailer(settings, template_env(settings), None)
            return await webhook_delivery.deliver(
                session, settings, mailer, UUID(str(delivery_id)), final_attempt=final
            )
    finally:
        await config.get_engine().dispose()
