"""Rate limits, maintenance mode, readiness, CORS and metrics labels: what every request goes through."""

from __future__ import annotations

import time
from collections.abc import Callable

from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from coins.app import create_app
from coins.settings import Settings
from tests.conftest import make_admin, register, token_for
from tests.support.servers import unique_email


def far_from_minute_boundary() -> None:
    """Fixed one-minute windows: don't start a counting test in the last seconds of a minute."""
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)


async def test_rate_limit_per_address_and_per_user(make_settings: Callable[..., Settings], clean: None) -> None:
    app = create_app(make_settings(security={"rate_limit_per_minute": 5, "auth_rate_limit_per_minute": 0}))
    far_from_minute_boundary()
    async with AsyncTestClient(app=app) as client:
        statuses = [(await client.get("/")).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        limited = await client.get("/api/auth/me")
        assert limited.status_code == 429
        body = limited.json()
        assert body["error_code"] == "RATE_001"
        assert 0 < int(limited.headers["retry-after"]) <= 60
        # Probes are never limited.
        assert (await client.get("/health")).status_code == 200

        # A signed-in user has a budget of their own, separate from the anonymous address budget.
        email = unique_email()
        app_without_limit = create_app(make_settings())
        async with AsyncTestClient(app=app_without_limit) as setup:
            await register(setup, email=email)
            token = await token_for(setup, email)
        auth = {"Authorization": f"Bearer {token}"}
        user_statuses = [(await client.get("/api/auth/me", headers=auth)).status_code for _ in range(6)]
        assert user_statuses == [200] * 5 + [429]
        assert (await client.get("/api/auth/me", headers=auth)).headers["x-ratelimit-remaining"] == "0"


async def test_auth_endpoints_have_a_stricter_limit(make_settings: Callable[..., Settings], clean: None) -> None:
    app = create_app(make_settings(security={"rate_limit_per_minute": 100, "auth_rate_limit_per_minute": 3}))
    far_from_minute_boundary()
    async with AsyncTestClient(app=app) as client:
        attempts = [
            (
                await client.post("/api/auth/token", json={"email": "x@example.org", "password": "Whatever-1"})
            ).status_code
            for _ in range(4)
        ]
        assert attempts == [401, 401, 401, 429]
        # Other pages still answer: the strict budget is only for log-in, sign-up and resets.
        assert (await client.get("/login")).status_code == 200


async def test_zero_turns_limits_off(make_settings: Callable[..., Settings], clean: None) -> None:
    app = create_app(make_settings(security={"rate_limit_per_minute": 0, "auth_rate_limit_per_minute": 0}))
    async with AsyncTestClient(app=app) as client:
        statuses = {(await client.get("/login")).status_code for _ in range(150)}
        assert statuses == {200}


async def test_maintenance_mode(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    admin = unique_email("admin")
    await make_admin(settings, admin)
    admin_auth = {"Authorization": f"Bearer {await token_for(client, admin)}"}
    member = unique_email()
    await register(client, email=member)
    member_auth = {"Authorization": f"Bearer {await token_for(client, member)}"}

    switched = await client.put(
        "/api/admin/maintenance",
        json={"enabled": True, "message": "Upgrading, back at 14:00."},
        headers=admin_auth,
    )
    assert switched.json()["enabled"] is True

    page = await client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 503
    assert "Upgrading, back at 14:00." in page.text
    assert page.headers["retry-after"] == "120"
    api = await client.get("/api/auth/me", headers=member_auth)
    assert api.status_code == 503
    assert api.json()["error_code"] == "SYSTEM_002"
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/login")).status_code == 200  # admins must be able to log in
    assert (await client.get("/api/auth/me", headers=admin_auth)).status_code == 200  # admins pass

    await client.put("/api/admin/maintenance", json={"enabled": False}, headers=admin_auth)
    assert (await client.get("/api/auth/me", headers=member_auth)).status_code == 200


async def test_ready_reports_failing_checks(make_settings: Callable[..., Settings], clean: None) -> None:
    healthy = create_app(make_settings())
    async with AsyncTestClient(app=healthy) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "valkey": "ok"}}

    # Valkey unreachable (nothing listens on port 1): /ready says so, /health stays up.
    broken = create_app(make_settings(redis={"url": "redis://127.0.0.1:1/0", "socket_timeout": 0.5}))
    async with AsyncTestClient(app=broken) as client:
        response = await client.get("/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["failing"] == ["valkey"]
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["valkey"] in {"failing", "timed out"}  # the reason is logged, not told
        assert "127.0.0.1" not in response.text and "Error" not in response.text
        assert (await client.get("/health")).status_code == 200


async def test_cors_from_settings(make_settings: Callable[..., Settings], clean: None) -> None:
    app = create_app(make_settings(security={"cors_origins": ["https://app.example.com"]}))
    async with AsyncTestClient(app=app) as client:
        allowed = await client.options(
            "/api/auth/token",
            headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        other = await client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_metrics_are_labelled_by_route_template(client: AsyncTestClient[Litestar]) -> None:
    await client.get("/password/reset/some-secret-token-value")
    await client.get("/completely/unknown/path-123")
    text = (await client.get("/metrics")).text
    routes = {
        sample.labels["route"]
        for family in text_string_to_metric_families(text)
        if family.name == "http_requests"
        for sample in family.samples
    }
    assert "/password/reset/{token}" in routes
    assert "unmatched" in routes
    assert not any("some-secret-token-value" in route or "path-123" in route for route in routes)
