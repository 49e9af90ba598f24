"""Two real replicas (granian processes) behind the real Envoy config: the app keeps no state in a process.

Sessions, rate-limit counters and the maintenance flag live in the shared Valkey, so whatever one replica
writes the other honours on its very next request. Every check here goes over real HTTP, directly to a
replica or through Envoy.

The replicas run with RATE_LIMIT_PER_MINUTE=10 for the whole module (starting them once saves seconds
per test). The other tests stay far below that: `clean` empties Valkey before each test, so counters
start at zero, and each test speaks for its own made-up client address (X-Forwarded-For, which
TRUSTED_PROXY_COUNT=1 tells the app to believe, as it does behind Envoy).
"""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import pytest
from valkey.asyncio import Valkey

from coins.settings import Settings
from tests.conftest import PASSWORD, make_admin
from tests.support.envoy import EnvoyProcess
from tests.support.servers import AppProcess, unique_email

pytestmark = [pytest.mark.system, pytest.mark.usefixtures("clean")]

RATE_LIMIT = 10
ERROR_KEYS = {"error_code", "message", "details", "timestamp", "request_id"}
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


@dataclass
class Cluster:
    one: AppProcess
    two: AppProcess
    envoy: EnvoyProcess


@pytest.fixture(scope="module")
def cluster(app_env: Callable[..., dict[str, str]]) -> Iterator[Cluster]:
    # Same environment for both, as in compose: one database, one Valkey, one SECRET_KEY.
    env = app_env(TRUSTED_PROXY_COUNT="1", RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT))
    replicas = [AppProcess(env=env), AppProcess(env=env)]
    envoy: EnvoyProcess | None = None
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:  # both boot at once: half the wait
            for started in [pool.submit(replica.start) for replica in replicas]:
                started.result()
        envoy = EnvoyProcess([replica.port for replica in replicas]).start()
        yield Cluster(replicas[0], replicas[1], envoy)
    finally:
        if envoy is not None:
            envoy.cleanup()
        for replica in replicas:
            replica.stop()


def http_client(**kwargs: Any) -> httpx.AsyncClient:
    """A client that never stores cookies: every cookie a test sends is passed explicitly, so a session
    that works on replica 2 provably came from the log-in on replica 1."""
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(cookies=jar, follow_redirects=False, timeout=15.0, **kwargs)


# Made-up caller addresses from the documentation ranges, never the same one twice in a run: two callers
# that happened to share an address would share a rate-limit bucket.
_ADDRESSES = (f"{net}.{host}" for net in ("192.0.2", "198.51.100", "203.0.113") for host in range(1, 255))


def client_address() -> str:
    return next(_ADDRESSES)


def set_cookie(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0]
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["error_code"] == code, body
    return body


async def register(client: httpx.AsyncClient, base_url: str, *, email: str, name: str, xff: str) -> None:
    response = await client.post(
        base_url + "/api/auth/register",
        json={"email": email, "password": PASSWORD, "full_name": name},
        headers={"X-Forwarded-For": xff},
    )
    assert response.status_code == 201, response.text


async def token(client: httpx.AsyncClient, base_url: str, email: str, xff: str) -> str:
    response = await client.post(
        base_url + "/api/auth/token",
        json={"email": email, "password": PASSWORD},
        headers={"X-Forwarded-For": xff},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def form_login(client: httpx.AsyncClient, base_url: str, email: str, xff: str) -> tuple[str, str]:
    """Log in the way a browser does: GET the form, POST it with the CSRF token. Returns (session, csrf)."""
    page = await client.get(base_url + "/login", headers={**HTML, "X-Forwarded-For": xff})
    assert page.status_code == 200, page.text
    csrf_cookie = set_cookie(page, "coins_csrf")
    # Litestar's csrf_input: <input type="hidden" name="_csrf_token" value="...">
    match = re.search(r'name="_csrf_token"\s+value="([^"]+)"', page.text)
    assert match, "no _csrf_token hidden input on /login"
    response = await client.post(
        base_url + "/login",
        data={
            "_csrf_token": html.unescape(match.group(1)),
            "email": email,
            "password": PASSWORD,
            "next": "/account",
        },
        headers={**HTML, "Cookie": f"coins_csrf={csrf_cookie}", "X-Forwarded-For": xff},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/account"
    return set_cookie(response, "coins_session"), csrf_cookie


async def test_a_session_made_on_one_replica_works_on_the_other(cluster: Cluster) -> None:
    email, name, xff = unique_email("grace"), "Grace Hopper", client_address()
    async with http_client() as client:
        await register(client, cluster.one.url, email=email, name=name, xff=xff)
        session, csrf = await form_login(client, cluster.one.url, email, xff)

        # The cookie holds only an id; replica 2 finds the session in Valkey.
        cookie = {"Cookie": f"coins_session={session}; coins_csrf={csrf}", "X-Forwarded-For": xff}
        account = await client.get(cluster.two.url + "/account", headers={**HTML, **cookie})
        assert account.status_code == 200, account.text
        assert name in account.text
        assert html.escape(email) in account.text

        # Control: the same page without the cookie is a redirect to the log-in form, so the 200 above
        # was the session's doing.
        anonymous = await client.get(cluster.two.url + "/account", headers={**HTML, "X-Forwarded-For": xff})
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login")

        # Through Envoy (round robin): several requests, so both replicas answer at least one.
        request_ids = [f"replica-test-{uuid.uuid4().hex}" for _ in range(4)]
        for request_id in request_ids:
            via_envoy = await client.get(
                cluster.envoy.url + "/account", headers={**HTML, **cookie, "X-Request-ID": request_id}
            )
            assert via_envoy.status_code == 200, via_envoy.text
            assert name in via_envoy.text
        upstreams = {cluster.envoy.wait_for_access_log(rid)["upstream_host"] for rid in request_ids}
        assert upstreams == {f"127.0.0.1:{cluster.one.port}", f"127.0.0.1:{cluster.two.port}"}

        # Logging out on replica 2 ends the session for replica 1 too. The CSRF token is signed with the
        # shared SECRET_KEY, so the form token from replica 1 is accepted by replica 2.
        logout = await client.post(cluster.two.url + "/logout", headers={**HTML, **cookie, "x-csrftoken": csrf})
        assert logout.status_code == 303, logout.text
        after = await client.get(cluster.one.url + "/account", headers={**HTML, **cookie})
        assert after.status_code == 303
        assert after.headers["location"].startswith("/login")


def minute() -> int:
    """The app's rate-limit window (gate.py: fixed windows of time.time() // 60)."""
    return int(time.time() // 60)


async def test_b_rate_limit_counts_across_both_replicas(cluster: Cluster) -> None:
    async with http_client() as client:
        # The counters are per one-minute window: if the window rolled over during the burst, the count
        # restarted half-way and proves nothing, so try once more (a burst takes well under a second).
        for _attempt in range(2):
            xff = client_address()
            started = minute()
            responses: list[httpx.Response] = []
            for i in range(RATE_LIMIT):
                replica = cluster.one if i % 2 == 0 else cluster.two
                responses.append(await client.get(replica.url + "/", headers={**HTML, "X-Forwarded-For": xff}))
            # The 11th request goes to replica 1, the 12th to replica 2: both refuse.
            eleventh = await client.get(cluster.one.url + "/", headers={**JSON, "X-Forwarded-For": xff})
            twelfth = await client.get(cluster.two.url + "/", headers={**HTML, "X-Forwarded-For": xff})
            if minute() == started:
                break
        else:
            pytest.fail("the minute window rolled over during both attempts")

        # One counter for both replicas: the remaining allowance falls 9, 8, ... 0 whichever replica answers.
        assert [r.status_code for r in responses] == [200] * RATE_LIMIT
        remaining = [int(r.headers["x-ratelimit-remaining"]) for r in responses]
        assert remaining == list(range(RATE_LIMIT - 1, -1, -1))

        assert_error(eleventh, 429, "RATE_001")
        assert 1 <= int(eleventh.headers["retry-after"]) <= 60
        assert eleventh.headers["x-ratelimit-remaining"] == "0"

        assert twelfth.status_code == 429
        assert twelfth.headers["content-type"].startswith("text/html")  # a browser gets a page
        assert "Slow down" in twelfth.text
        assert 1 <= int(twelfth.headers["retry-after"]) <= 60

        # Another client address is not affected.
        other = await client.get(cluster.two.url + "/", headers={**HTML, "X-Forwarded-For": client_address()})
        assert other.status_code == 200
        assert other.headers["x-ratelimit-remaining"] == str(RATE_LIMIT - 1)


async def test_b_through_envoy_the_limit_follows_the_real_client_address(cluster: Cluster, valkey: Valkey) -> None:
    async with http_client() as client:
        for _attempt in range(2):
            await valkey.flushdb()  # a retry must not inherit the first attempt's counts
            started = minute()
            # A client that claims a different address on every request: Envoy appends the address it
            # really sees, the app (one trusted proxy) takes that right-most entry, so all count as one.
            spoofed = [client_address() for _ in range(RATE_LIMIT + 1)]
            responses = [
                await client.get(cluster.envoy.url + "/", headers={**JSON, "X-Forwarded-For": claimed})
                for claimed in spoofed
            ]
            # Another caller (as Envoy forwards one: its address as the last X-Forwarded-For entry).
            other_address = client_address()
            forwarded = f"{client_address()}, {other_address}"  # whatever it claimed, then what Envoy saw
            other = await client.get(cluster.two.url + "/", headers={**JSON, "X-Forwarded-For": forwarded})
            if minute() == started:
                break
        else:
            pytest.fail("the minute window rolled over during both attempts")

        assert [r.status_code for r in responses[:RATE_LIMIT]] == [200] * RATE_LIMIT
        assert_error(responses[RATE_LIMIT], 429, "RATE_001")
        assert "retry-after" in responses[RATE_LIMIT].headers
        assert other.status_code == 200

        # What the app counted: one bucket for everything that came through Envoy, under an address the
        # client never sent, and one for the other caller.
        # Keys are ratelimit:addr:<address>:<window>; the address may be IPv6, colons and all.
        keys = sorted(k.decode() for k in await valkey.keys("ratelimit:addr:*"))
        buckets = {
            key.removeprefix("ratelimit:addr:").rsplit(":", 1)[0]: int(await valkey.get(key) or 0) for key in keys
        }
        assert buckets.pop(other_address) == 1, keys
        assert len(buckets) == 1, keys
        [(seen_by_envoy, count)] = buckets.items()
        assert seen_by_envoy not in spoofed
        assert count == RATE_LIMIT + 1


async def test_c_maintenance_set_on_one_replica_applies_to_both(
    cluster: Cluster, make_settings: Callable[..., Settings]
) -> None:
    admin_email, member_email, xff = unique_email("admin"), unique_email("member"), client_address()
    await make_admin(make_settings(), admin_email)
    async with http_client() as client:
        await register(client, cluster.one.url, email=member_email, name="Mary Member", xff=xff)
        admin = {"Authorization": f"Bearer {await token(client, cluster.one.url, admin_email, xff)}"}
        member = {"Authorization": f"Bearer {await token(client, cluster.one.url, member_email, xff)}"}
        anonymous = {"X-Forwarded-For": xff}

        switched_on = await client.put(
            cluster.one.url + "/api/admin/maintenance",
            json={"enabled": True, "message": "Upgrading the database, back at noon."},
            headers=admin,
        )
        assert switched_on.status_code == 200, switched_on.text
        assert switched_on.json()["enabled"] is True

        # Replica 2 never heard of the change, yet it refuses on its next request.
        page = await client.get(cluster.two.url + "/", headers={**HTML, **anonymous})
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/html")
        assert "Upgrading the database, back at noon." in page.text
        assert page.headers["retry-after"] == "120"

        api = await client.get(cluster.two.url + "/api/auth/me", headers={**JSON, **member})
        body = assert_error(api, 503, "SYSTEM_002")
        assert body["message"] == "Upgrading the database, back at noon."
        assert api.headers["retry-after"] == "120"

        # The probes still answer, so Envoy and Kubernetes keep the replicas in rotation.
        for replica in (cluster.one, cluster.two):
            assert (await client.get(replica.url + "/health")).status_code == 200
            assert (await client.get(replica.url + "/ready")).status_code == 200
        assert (await client.get(cluster.envoy.url + "/", headers={**HTML, **anonymous})).status_code == 503

        # An admin gets through on both replicas (to check the site before switching it back on).
        for replica in (cluster.one, cluster.two):
            me = await client.get(replica.url + "/api/auth/me", headers={**JSON, **admin})
            assert me.status_code == 200, me.text
            assert me.json()["email"] == admin_email
        state = await client.get(cluster.two.url + "/api/admin/maintenance", headers=admin)
        assert state.json()["enabled"] is True
        assert state.json()["by"] == admin_email

        switched_off = await client.put(
            cluster.two.url + "/api/admin/maintenance", json={"enabled": False}, headers=admin
        )
        assert switched_off.status_code == 200, switched_off.text
        assert switched_off.json()["enabled"] is False

        restored = await client.get(cluster.one.url + "/", headers={**HTML, **anonymous})
        assert restored.status_code == 200
        me = await client.get(cluster.one.url + "/api/auth/me", headers={**JSON, **member})
        assert me.status_code == 200, me.text
        assert me.json()["email"] == member_email


async def test_envoy_passes_request_ids_and_logs_json(cluster: Cluster) -> None:
    async with http_client() as client:
        # A caller's id is kept (preserve_external_request_id) and reaches the app, which echoes it.
        sent = f"trace-{uuid.uuid4().hex}"
        kept = await client.get(cluster.envoy.url + "/health", headers={"X-Request-ID": sent})
        assert kept.status_code == 200
        assert kept.headers["x-request-id"] == sent
        entry = cluster.envoy.wait_for_access_log(sent)
        assert entry["method"] == "GET"
        assert entry["path"] == "/health"
        assert entry["status"] == 200
        assert isinstance(entry["duration_ms"], int)
        assert entry["upstream_host"] in {f"127.0.0.1:{r.port}" for r in (cluster.one, cluster.two)}

        # Without one, Envoy makes one up (generate_request_id) and the app uses it rather than its own.
        made = await client.get(cluster.envoy.url + "/no/such/page", headers=JSON)
        assert made.status_code == 404
        generated = made.headers["x-request-id"]
        # Envoy's ids are dashed UUIDs; the app would have made a bare hex one.
        assert str(uuid.UUID(generated)) == generated
        assert made.json()["request_id"] == generated
        assert cluster.envoy.wait_for_access_log(generated)["status"] == 404
