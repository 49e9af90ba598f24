"""Webhooks: signed deliveries to a real local HTTP receiver, retries, the day-long failure rule, SSRF.

Which runner each test uses:
- `test_a_worker_delivers_signed_events_and_retries`: a real `coins worker` subprocess (SAQ's retries with
  backoff are what is tested, so the worker is the point);
- the others call the delivery function of the `deliver_webhook` task directly (`run_delivery`): what they
  test is the decision made in one attempt, and a worker would only add waiting.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.app import create_app
from coins.lib.db import standalone_session
from coins.lib.links import Links
from coins.mail.models import EmailMessage
from coins.platforms import hooks
from coins.platforms.models import WebhookDelivery, WebhookEndpoint
from coins.platforms.netguard import AddressRefused, GuardedResolver, address_allowed, parse_address, url_problem
from coins.platforms.webhooks.delivery import post_signed
from coins.routes import route_reverser
from coins.settings import Settings
from coins.wiring import database_config
from tests.support.factories import Actors
from tests.support.platforms import (
    Receiver,
    linked_campaign,
    load_example,
    register_platform,
    run_delivery,
    submit_through_permalink,
)
from tests.support.servers import PROJECT_ROOT, unique_email

verify_signature = load_example("webhook_receiver").verify_signature


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def private_settings(make_settings: Callable[..., Settings]) -> Settings:
    """The local receiver lives on 127.0.0.1: only reachable with private networks allowed."""
    return make_settings(security={"webhook_allow_private_networks": True})


@pytest.fixture
async def private_client(private_settings: Settings, clean: None) -> Any:
    async with AsyncTestClient(app=create_app(private_settings)) as client:
        yield client


async def deliveries_of(db_engine: AsyncEngine, endpoint_id: str) -> list[Any]:
    async with db_engine.connect() as conn:
        return list(
            await conn.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
            )
        )


async def endpoint_row(db_engine: AsyncEngine, endpoint_id: str) -> Any:
    async with db_engine.connect() as conn:
        return (await conn.execute(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))).one()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_ssrf_refusals_at_registration_and_at_delivery(
    client: AsyncTestClient[Litestar],
    settings: Settings,
    private_settings: Settings,
    db_engine: AsyncEngine,
    receiver: Receiver,
) -> None:
    """Run directly (no worker): the address checks and one delivery attempt."""
    refused_urls = [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/hook",
        "http://192.168.0.10/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "ftp://example.org/hook",
        "http://user:pass@example.org/hook",
    ]
    for url in refused_urls:
        assert url_problem(url, allow_private=False), url
    assert url_problem("https://hooks.example.org/coins", allow_private=False) is None
    assert url_problem("http://127.0.0.1:8080/hook", allow_private=True) is None  # the setting lifts the rule
    assert url_problem("ftp://127.0.0.1/hook", allow_private=True)  # but never the scheme rule
    for literal in ("8.8.8.8", "2606:4700:4700::1111"):
        address = parse_address(literal)
        assert address is not None and address_allowed(address)

    # The API refuses them too.
    actors = await Actors(client, settings).setup()
    _, key = await register_platform(client, actors.admin, "Wiki", [])
    for url in (
        "http://127.0.0.1:9/x",
        "http://[::1]/x",
        "http://10.0.0.7/x",
        "http://169.254.169.254/x",
        "http://localhost/x",
    ):
        answer = await client.post("/api/webhooks", json={"url": url, "events": ["idea.submitted"]}, headers=key)
        assert answer.status_code == 422, (url, answer.text)
        assert "url" in answer.json()["details"]["fields"]

    # At delivery time the host is resolved again, and every address it resolves to must be allowed: a name
    # that pointed somewhere public when registered and now resolves to 127.0.0.1 (DNS rebinding) is refused.
    with pytest.raises(AddressRefused):
        await GuardedResolver(allow_private=False).resolve("localhost", 80, socket.AF_UNSPEC)
    assert len(await GuardedResolver(allow_private=True).resolve("localhost", 80, socket.AF_UNSPEC)) >= 1
    code, error = await post_signed(receiver.url, b"{}", {}, allow_private=False)
    assert code is None and error.startswith("refused:") and "127.0.0.1" in error
    code, error = await post_signed(receiver.url.replace("127.0.0.1", "localhost"), b"{}", {}, allow_private=False)
    assert code is None and error.startswith("refused:") and "localhost resolves to" in error
    assert receiver.received == []

    made = await client.post(
        "/api/webhooks", json={"url": "https://hooks.example.org/coins", "events": ["idea.submitted"]}, headers=key
    )
    endpoint_id = made.json()["id"]
    async with db_engine.begin() as conn:  # the name now points home
        await conn.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(url=receiver.url.replace("127.0.0.1", "localhost"))
        )
    sent = await client.post(f"/api/webhooks/{endpoint_id}/test", headers=key)
    assert sent.status_code == 202
    outcome = await run_delivery(settings, sent.json()["id"])
    assert outcome.status == "retry" and "refused" in outcome.error
    (delivery,) = await deliveries_of(db_engine, endpoint_id)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, None)
    assert "localhost resolves to" in delivery.last_error and "not allowed" in delivery.last_error
    assert receiver.received == []

    # Allowed by the setting: the same delivery reaches the local receiver.
    outcome = await run_delivery(private_settings, delivery.id)
    assert outcome.status == "succeeded"
    assert len(receiver.received) == 1


async def test_registration_reads_addresses_as_the_resolver_does_and_resolves_names(
    client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    # getaddrinfo reads the old numeric forms as addresses: 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 are all
    # 127.0.0.1.  They were accepted at registration and refused only at delivery, then retried for a day.
    for legacy in ("2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0xa9fea9fe"):
        assert str(parse_address(legacy)) in {"127.0.0.1", "169.254.169.254"}, legacy
        assert url_problem(f"http://{legacy}/hook", allow_private=False), legacy
    assert parse_address("deadbeef") is None and parse_address("hooks.example.org") is None

    actors = await Actors(client, settings).setup()
    _, key = await register_platform(client, actors.admin, "Numbers", [])
    # This machine's own name resolves to a loopback address (from /etc/hosts, no DNS needed): refused at
    # registration by the delivery's own guard, naming what it resolves to.
    home = socket.gethostname()
    resolved = {info[4][0] for info in socket.getaddrinfo(home, 80, type=socket.SOCK_STREAM)}
    assert resolved and not any(address_allowed(a) for a in map(parse_address, resolved) if a is not None)
    for url in ("http://2130706433/hook", "http://0x7f.1/hook", f"http://{home}:8080/hook"):
        answer = await client.post("/api/webhooks", json={"url": url, "events": ["idea.submitted"]}, headers=key)
        assert answer.status_code == 422, (url, answer.text)
        assert "url" in answer.json()["details"]["fields"], answer.text
    listed = await client.get("/api/webhooks", headers=key)
    assert listed.json()["total"] == 0  # nothing was stored
    # A name that does not resolve (yet) is accepted: each delivery resolves and checks it again.
    made = await client.post(
        "/api/webhooks", json={"url": "https://hooks.example.org/coins", "events": ["idea.submitted"]}, headers=key
    )
    assert made.status_code == 201, made.text


@pytest.fixture
def worker(app_env: Callable[..., dict[str, str]], clean: None) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, **app_env(WEBHOOK_ALLOW_PRIVATE_NETWORKS="true")}
    process = subprocess.Popen([sys.executable, "-m", "coins", "worker"], cwd=PROJECT_ROOT, env=env)
    yield process
    process.terminate()
    process.wait(timeout=30)


async def test_a_worker_delivers_signed_events_and_retries(
    private_client: AsyncTestClient[Litestar],
    private_settings: Settings,
    worker: subprocess.Popen[bytes],
    receiver: Receiver,
) -> None:
    """A real `coins worker` process: the receiver answers 500 twice, then 200; SAQ retries with backoff."""
    client = private_client
    actors = await Actors(client, private_settings).setup()
    _, key = await register_platform(client, actors.admin, "Wiki", [])
    made = await client.post("/api/webhooks", json={"url": receiver.url, "events": ["idea.submitted"]}, headers=key)
    assert made.status_code == 201, made.text
    endpoint, secret = made.json(), made.json()["secret"]
    receiver.statuses = [500, 500]

    sent = await client.post(f"/api/webhooks/{endpoint['id']}/test", headers=key)
    assert sent.status_code == 202
    delivery_id = sent.json()["id"]
    deadline = asyncio.get_running_loop().time() + 40
    while True:
        log = (await client.get(f"/api/webhooks/{endpoint['id']}/deliveries", headers=key)).json()
        if log["items"] and log["items"][0]["status"] == "succeeded":
            break
        assert asyncio.get_running_loop().time() < deadline, f"not delivered: {log}"
        await asyncio.sleep(0.2)

    entry = log["items"][0]
    assert (entry["id"], entry["event"], entry["attempts"], entry["response_code"], entry["last_error"]) == (
        delivery_id, "webhook.test", 3, 200, "",
    )  # fmt: skip
    assert entry["delivered_at"] and entry["last_attempt_at"]
    assert [r.path for r in receiver.received] == ["/hooks/coins"] * 3
    bodies = {r.body for r in receiver.received}
    assert len(bodies) == 1  # the same body (and id) on every attempt, signed afresh each time
    for request in receiver.received:
        assert verify_signature(secret, request.headers["Coins-Signature"], request.body)
        assert not verify_signature(secret + "x", request.headers["Coins-Signature"], request.body)
        assert not verify_signature(secret, request.headers["Coins-Signature"], request.body + b" ")
        assert request.headers["Coins-Event"] == "webhook.test"
        assert request.headers["Coins-Delivery"] == delivery_id
        assert request.event["id"] == delivery_id and request.event["type"] == "webhook.test"
    health = (await client.get(f"/api/webhooks/{endpoint['id']}", headers=key)).json()
    assert (health["enabled"], health["consecutive_failures"], health["failing_since"]) == (True, 0, None)
    assert health["last_success_at"]


async def test_idea_events_and_coin_thresholds_reach_the_platform(
    private_client: AsyncTestClient[Litestar], private_settings: Settings, db_engine: AsyncEngine, receiver: Receiver
) -> None:
    """Run directly (no worker): which events are queued for which ideas, and what is sent."""
    client = private_client
    actors = await Actors(client, private_settings).setup()
    campaign = await linked_campaign(client, actors, "mediated-ideas", campaign_type="mediated")
    platform, key = await register_platform(client, actors.admin, "Wiki", ["mediated-ideas"])
    _, other_key = await register_platform(client, actors.admin, "Forum", ["mediated-ideas"])
    made = await client.post(
        "/api/webhooks",
        json={
            "url": receiver.url,
            "events": ["idea.submitted", "idea.status_changed", "idea.coins_threshold"],
            "coins_threshold": 5,
        },
        headers=key,
    )
    endpoint, secret = made.json(), made.json()["secret"]
    other = await client.post(
        "/api/webhooks",
        json={"url": receiver.url, "events": ["idea.submitted", "idea.status_changed"]},
        headers=other_key,
    )
    link = await client.post(
        "/api/permalinks",
        json={"campaign": "mediated-ideas", "context_id": "page-7", "title": "Solar roof"},
        headers=key,
    )
    token = link.json()["url"].rsplit("/", 1)[1]

    idea_id = await submit_through_permalink(client, token, email=unique_email("pat"), description="Panels on the roof")
    # An idea submitted otherwise is nobody's: its changes send nothing.
    _, member = await actors.person("member")
    await client.post("/api/campaigns/mediated-ideas/join", headers=member)
    plain = (
        await client.post(
            "/api/campaigns/mediated-ideas/ideas", json={"title": "Plain", "description": "x"}, headers=member
        )
    ).json()
    for approved in (idea_id, plain["id"]):
        answer = await client.post(
            f"/api/ideas/{approved}/status", json={"status": "competing"}, headers=campaign.manager
        )
        assert answer.status_code == 200, answer.text

    queued = await deliveries_of(db_engine, endpoint["id"])
    assert [d.event for d in queued] == ["idea.submitted", "idea.status_changed"]
    assert all(d.idea_id == idea_id for d in queued)
    assert await deliveries_of(db_engine, other.json()["id"]) == []  # the other platform hears nothing

    # Coins: the threshold job (every minute in the worker) sends idea.coins_threshold once.
    async with db_engine.begin() as conn:
        await conn.execute(text("UPDATE ideas SET coins = 6 WHERE id IN (:a, :b)"), {"a": idea_id, "b": plain["id"]})
    config = database_config(private_settings)
    links = Links("https://coins.example.org", lambda: route_reverser(private_settings))
    try:
        async with standalone_session(config) as session:
            assert await hooks.check_coin_thresholds(session, queue=None, links=links) == 1
        async with standalone_session(config) as session:
            assert await hooks.check_coin_thresholds(session, queue=None, links=links) == 0
    finally:
        await config.get_engine().dispose()

    queued = await deliveries_of(db_engine, endpoint["id"])
    assert [d.event for d in queued] == ["idea.submitted", "idea.status_changed", "idea.coins_threshold"]
    for delivery in queued:
        assert (await run_delivery(private_settings, delivery.id)).status == "succeeded"
    events = [r.event for r in receiver.received]
    assert [e["type"] for e in events] == ["idea.submitted", "idea.status_changed", "idea.coins_threshold"]
    for request in receiver.received:
        assert verify_signature(secret, request.headers["Coins-Signature"], request.body)
    submitted, changed, threshold = (e["data"] for e in events)
    assert submitted["idea"]["id"] == idea_id and submitted["idea"]["status"] == "pending"
    assert submitted["idea"]["context_id"] == "page-7" and submitted["idea"]["campaign"] == "mediated-ideas"
    assert submitted["idea"]["title"] == "Solar roof" and submitted["idea"]["url"].endswith(f"/ideas/{idea_id}")
    assert (changed["previous_status"], changed["idea"]["status"]) == ("pending", "competing")
    assert (threshold["threshold"], threshold["idea"]["coins"]) == (5, 6)
    assert {e["platform_id"] for e in events} == {platform["id"]}


async def test_an_endpoint_failing_for_a_day_is_disabled_and_its_owner_told(
    private_client: AsyncTestClient[Litestar], private_settings: Settings, db_engine: AsyncEngine
) -> None:
    """Run directly (no worker); the day is simulated by moving the endpoint's failing_since back."""
    client = private_client
    actors = await Actors(client, private_settings).setup()
    platform, key = await register_platform(client, actors.admin, "Wiki", [])
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    made = await client.post("/api/webhooks", json={"url": dead, "events": ["idea.submitted"]}, headers=key)
    endpoint_id = made.json()["id"]
    first = (await client.post(f"/api/webhooks/{endpoint_id}/test", headers=key)).json()["id"]
    waiting = (await client.post(f"/api/webhooks/{endpoint_id}/test", headers=key)).json()["id"]

    outcome = await run_delivery(private_settings, first)
    assert outcome.status == "retry" and outcome.error
    row = await endpoint_row(db_engine, endpoint_id)
    assert row.failing_since is not None and row.consecutive_failures == 1 and row.disabled_at is None

    async with db_engine.begin() as conn:
        await conn.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(failing_since=text("now() - interval '25 hours'"))
        )
    outcome = await run_delivery(private_settings, first)
    assert outcome.status == "failed"
    row = await endpoint_row(db_engine, endpoint_id)
    assert row.disabled_at is not None and "24 hours" in row.disabled_reason
    statuses = {str(d.id): (d.status, d.attempts) for d in await deliveries_of(db_engine, endpoint_id)}
    assert statuses == {first: ("failed", 2), waiting: ("failed", 0)}
    async with db_engine.connect() as conn:
        emails = list(await conn.execute(select(EmailMessage).where(EmailMessage.kind == "webhook_disabled")))
    assert [e.to_address for e in emails] == [platform["owner_email"]]
    assert emails[0].subject == "A webhook endpoint of Wiki is disabled"
    assert dead in emails[0].body_text and "24 hours" in emails[0].body_text

    # Disabled: nothing more is queued or sent; the platform (or an admin) switches it back on.
    health = (await client.get(f"/api/webhooks/{endpoint_id}", headers=key)).json()
    assert health["enabled"] is False
    assert (await client.post(f"/api/webhooks/{endpoint_id}/test", headers=key)).status_code == 409
    enabled = await client.patch(f"/api/webhooks/{endpoint_id}", json={"enabled": True}, headers=key)
    assert (enabled.json()["enabled"], enabled.json()["consecutive_failures"]) == (True, 0)
