"""The production topology on one machine (`coins cluster --replicas 2`: two granian replicas, the SAQ
worker, Envoy from deploy/envoy/envoy.yaml) under continuous load, while things break:

(a) a replica is killed (SIGKILL to its process group): Envoy retries on another replica, the cluster
    starts it again; clients see no failed request.
(b) rolling restart of every replica (SIGHUP to the cluster: SIGTERM, granian drains in-flight requests,
    start, wait until ready and in Envoy's rotation, next): no failed request.
(c) PostgreSQL restarts (stop, then start on the same port): /ready reports the database failing, then
    recovers on its own (pool_pre_ping); requests during the outage get 503 and succeed on retry.
(d) Valkey restarts (AOF on): a browser session, a scheduled job and the rate-limit counters survive;
    requests during the outage get 503 and succeed on retry.
(e) after each, `coins audit` finds the ledger clean.

The load: 4 clients, each with its own member token, alternating GET /api/campaigns and coin allocations
and releases (POST with an Idempotency-Key, retried with the same key on 503 or a dropped connection, so a
retry never moves coins twice). Counts per scenario go to test-artifacts/failover-results.json.
PostgreSQL and Valkey belong to this module (they are restarted), the rest of the suite's servers are
untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from saq import Job
from sqlalchemy.ext.asyncio import create_async_engine
from valkey.asyncio import Valkey

from coins.cli.common import run_migrations
from coins.lib.embedded import EmbeddedPostgres, EmbeddedValkey, free_port
from coins.ops.envoy import EnvoyProcess
from coins.settings import Settings
from coins.wiring import job_queue
from tests.conftest import PASSWORD, make_admin, make_settings_for
from tests.support.coins import add_ideas
from tests.support.factories import campaign_body
from tests.support.servers import PROJECT_ROOT, app_environment, unique_email

pytestmark = pytest.mark.system

CLIENTS = 4
RESULTS = PROJECT_ROOT / "test-artifacts" / "failover-results.json"
RUNNING = re.compile(r"cluster is running at (http://\S+)")
RETRYABLE = {502, 503, 504}


# The cluster ---------------------------------------------------------------------------------------------


@dataclass
class Topology:
    postgres: EmbeddedPostgres
    valkey: EmbeddedValkey
    settings: Settings
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    url: str = ""

    @property
    def log_path(self) -> Path:
        return self.workdir / "cluster.log"

    @property
    def state_path(self) -> Path:
        return self.workdir / "data" / "cluster" / "cluster.json"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def state(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.state_path.read_text())
        return loaded

    def envoy(self) -> EnvoyProcess:
        state = self.state()
        return EnvoyProcess(
            upstream_ports=[r["port"] for r in state["replicas"]],
            port=state["envoy"]["port"],
            admin_port=state["envoy"]["admin_port"],
            workdir=Path(state["envoy"]["access_log"]).parent,
        )

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "coins", "cluster", "--replicas", "2", "--port", str(free_port()),
                 "--drain-seconds", "20"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # as a terminal would: the test sends Ctrl-C (SIGINT) itself
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while (match := RUNNING.search(self.log())) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"coins cluster did not start:\n{self.log()}")
            time.sleep(0.1)
        self.url = match.group(1)

    def all_pids(self) -> set[int]:
        state = self.state()
        pids = {r["pid"] for r in state["replicas"]} | {state["worker"]["pid"], state["envoy"]["pid"]}
        for pid in list(pids):
            with contextlib.suppress(psutil.NoSuchProcess):
                pids |= {child.pid for child in psutil.Process(pid).children(recursive=True)}
        return pids

    def kill_everything(self) -> None:
        if self.process is not None and self.process.poll() is None:
            pids = self.all_pids() if self.state_path.exists() else set()
            self.process.kill()
            self.process.wait(timeout=10)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    base = PROJECT_ROOT / ".coins" / "test-servers"
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="failover-", dir=base))
    postgres = EmbeddedPostgres(workdir / "postgres", port=free_port(), database="coins")
    valkey = EmbeddedValkey(workdir / "valkey", port=free_port())
    topology: Topology | None = None
    try:
        database_url, redis_url = postgres.start(), valkey.start()
        settings = make_settings_for(database_url, redis_url)
        run_migrations(settings)
        env = {
            **os.environ,
            **app_environment(
                database_url,
                redis_url,
                DATA_DIR=str(workdir / "data"),
                WEB_CONCURRENCY="1",
                # Counted (so there are rate-limit counters in Valkey to survive a restart), never reached.
                RATE_LIMIT_PER_MINUTE="1000000",
            ),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        topology = Topology(postgres, valkey, settings, env, workdir)
        topology.start()
        yield topology
    finally:
        if topology is not None:
            topology.kill_everything()
            # Keep the evidence: the cluster's output and every replica's and the worker's log.
            logs = PROJECT_ROOT / "test-artifacts" / "failover-logs"
            shutil.rmtree(logs, ignore_errors=True)
            shutil.copytree(workdir / "data" / "cluster" / "logs", logs, dirs_exist_ok=True)
            shutil.copy2(topology.log_path, logs / "cluster.log")
        valkey.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# Data and load -------------------------------------------------------------------------------------------


@dataclass
class Arena:
    slug: str
    ideas: list[int]
    members: list[dict[str, str]]
    member_email: str


@pytest.fixture(scope="module")
async def arena(topology: Topology) -> Arena:
    admin_email = unique_email("admin")
    await make_admin(topology.settings, admin_email)
    async with httpx.AsyncClient(base_url=topology.url, timeout=30) as client:

        async def token(email: str) -> dict[str, str]:
            response = await client.post("/api/auth/token", json={"email": email, "password": PASSWORD})
            assert response.status_code == 200, response.text
            return {"Authorization": f"Bearer {response.json()['access_token']}"}

        admin = await token(admin_email)
        slug = "failover"
        body = campaign_body(slug, coin_policy={"initial_allocation": 1_000_000})
        created = await client.post("/api/campaigns", json=body, headers=admin)
        assert created.status_code == 201, created.text
        activated = await client.post(f"/api/campaigns/{slug}/activate", headers=admin)
        assert activated.status_code == 200, activated.text
        members, emails = [], []
        for index in range(CLIENTS):
            email = unique_email(f"load{index}")
            registered = await client.post(
                "/api/auth/register", json={"email": email, "password": PASSWORD, "full_name": f"Load {index}"}
            )
            assert registered.status_code == 201, registered.text
            auth = await token(email)
            joined = await client.post(f"/api/campaigns/{slug}/join", headers=auth)
            assert joined.status_code == 200, joined.text
            members.append(auth)
            emails.append(email)
    engine = create_async_engine(topology.settings.database.url)
    try:
        ideas = await add_ideas(engine, created.json()["id"], 3)
    finally:
        await engine.dispose()
    return Arena(slug, ideas, members, emails[0])


@dataclass
class Stats:
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    attempts: int = 0
    coin_moves: int = 0
    retry_reasons: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


class Load:
    """CLIENTS clients hammering the API through Envoy until stopped."""

    MAX_ATTEMPTS = 40

    def __init__(self, url: str, arena: Arena) -> None:
        self.url = url
        self.arena = arena
        self.stats = Stats()
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Load:
        self.tasks = [asyncio.create_task(self.client(i)) for i in range(CLIENTS)]
        await asyncio.sleep(0.5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stopping.set()
        await asyncio.gather(*self.tasks)

    async def request(self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> bool:
        self.stats.sent += 1
        for attempt in range(self.MAX_ATTEMPTS):
            self.stats.attempts += 1
            try:
                response = await client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                reason = f"transport: {type(exc).__name__}"
            else:
                if response.status_code == 200:
                    self.stats.succeeded += 1
                    return True
                if response.status_code not in RETRYABLE:
                    self.stats.failed += 1
                    self.stats.failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
                    return False
                # Envoy adds x-envoy-upstream-service-time to what came from a replica.
                source = "app" if "x-envoy-upstream-service-time" in response.headers else "envoy"
                reason = f"{response.status_code} from {source}"
            if attempt == 0:
                self.stats.retried += 1
            self.stats.retry_reasons[reason] += 1
            await asyncio.sleep(0.1 + 0.05 * min(attempt, 8))
        self.stats.failed += 1
        self.stats.failures.append(f"{method} {path}: gave up after {self.MAX_ATTEMPTS} attempts")
        return False

    async def client(self, index: int) -> None:
        headers = self.arena.members[index]
        coins = f"/api/campaigns/{self.arena.slug}/coins"
        step = 0
        async with httpx.AsyncClient(base_url=self.url, timeout=httpx.Timeout(30.0), headers=headers) as client:
            while not self.stopping.is_set():
                idea = self.arena.ideas[step % len(self.arena.ideas)]
                step += 1
                await self.request(client, "GET", "/api/campaigns", headers={"Accept": "application/json"})
                body = {"idea_id": idea, "amount": 1}
                key = {"Idempotency-Key": f"load-{index}-{uuid.uuid4().hex}"}
                if await self.request(client, "POST", f"{coins}/allocate", json=body, headers=key):
                    self.stats.coin_moves += 1
                    key = {"Idempotency-Key": f"load-{index}-{uuid.uuid4().hex}"}
                    if await self.request(client, "POST", f"{coins}/release", json=body, headers=key):
                        self.stats.coin_moves += 1


# Helpers -------------------------------------------------------------------------------------------------

RESULTS_BY_SCENARIO: dict[str, dict[str, Any]] = {}


def envoy_retries(topology: Topology, since_line: int) -> tuple[int, int]:
    """(requests Envoy logged, of which it retried upstream) since the given access-log line."""
    entries = topology.envoy().access_log()[since_line:]
    retried = sum(1 for e in entries if str(e.get("retries", "1")).isdigit() and int(e["retries"]) > 1)
    return len(entries), retried


def record(topology: Topology, scenario: str, load: Load, since_line: int, seconds: float, **extra: Any) -> None:
    time.sleep(0.3)  # Envoy flushes its access log every 100 ms
    logged, envoy_retried = envoy_retries(topology, since_line)
    stats = asdict(load.stats)
    stats["retry_reasons"] = dict(load.stats.retry_reasons)
    stats["failures"] = stats["failures"][:10]
    RESULTS_BY_SCENARIO[scenario] = {
        **stats,
        "envoy_logged": logged,
        "envoy_retried_upstream": envoy_retried,
        "seconds": round(seconds, 1),
        **extra,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(RESULTS_BY_SCENARIO, indent=2))
    row = RESULTS_BY_SCENARIO[scenario]
    print(
        f"\n[failover] {scenario}: sent {row['sent']}, failed {row['failed']}, client retries {row['retried']} "
        f"({row['retry_reasons']}), Envoy upstream retries {envoy_retried} of {logged}, {row['seconds']} s"
    )


async def audit_clean(topology: Topology) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "coins", "audit",
        cwd=PROJECT_ROOT, env=topology.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    text = output.decode()
    assert process.returncode == 0, text
    assert "No differences." in text
    return text.strip()


async def wait_until(predicate: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await predicate():
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout} s")


def access_log_length(topology: Topology) -> int:
    return len(topology.envoy().access_log())


# Scenarios -----------------------------------------------------------------------------------------------


async def test_a_killing_a_replica_loses_no_request(topology: Topology, arena: Arena) -> None:
    before = topology.state()["replicas"][0]
    mark, started = access_log_length(topology), time.monotonic()
    async with Load(topology.url, arena) as load:
        await asyncio.sleep(1.0)
        os.killpg(before["pid"], signal.SIGKILL)  # the whole replica, as a container crash would

        async def back() -> bool:
            now = topology.state()["replicas"][0]
            return now["pid"] != before["pid"] and before["port"] in topology.envoy().healthy_upstreams()

        recovered = await wait_until(back, 60, "the killed replica back in Envoy's rotation")
        await asyncio.sleep(1.0)
    assert load.stats.failed == 0, load.stats.failures
    assert load.stats.sent > 100
    assert f"Replica 1 (port {before['port']}) exited" in topology.log()
    record(topology, "a_kill_replica", load, mark, time.monotonic() - started, recovered_after_s=round(recovered, 1),
           audit=await audit_clean(topology))  # fmt: skip


async def test_b_rolling_restart_loses_no_request(topology: Topology, arena: Arena) -> None:
    before = {r["index"]: r["pid"] for r in topology.state()["replicas"]}
    done_before = topology.log().count("Rolling restart done")
    mark, started = access_log_length(topology), time.monotonic()
    async with Load(topology.url, arena) as load:
        assert topology.process is not None
        os.kill(topology.process.pid, signal.SIGHUP)

        async def done() -> bool:
            return topology.log().count("Rolling restart done") > done_before

        took = await wait_until(done, 90, "the rolling restart")
        await asyncio.sleep(1.0)
    after = {r["index"]: r["pid"] for r in topology.state()["replicas"]}
    assert all(after[i] != before[i] for i in before), (before, after)
    assert load.stats.failed == 0, load.stats.failures
    record(topology, "b_rolling_restart", load, mark, time.monotonic() - started, restart_took_s=round(took, 1),
           audit=await audit_clean(topology))  # fmt: skip


async def ready_statuses(urls: list[str]) -> list[tuple[int, dict[str, Any]]]:
    async with httpx.AsyncClient(timeout=5) as client:
        answers = []
        for url in urls:
            try:
                response = await client.get(url + "/ready")
                answers.append((response.status_code, response.json()))
            except httpx.HTTPError as exc:
                answers.append((0, {"error": str(exc)}))
        return answers


async def test_c_postgres_restart_recovers_by_itself(topology: Topology, arena: Arena) -> None:
    replicas = [f"http://127.0.0.1:{r['port']}" for r in topology.state()["replicas"]]
    mark, started = access_log_length(topology), time.monotonic()
    async with Load(topology.url, arena) as load:
        topology.postgres.stop()
        outage_started = time.monotonic()

        async def failing() -> bool:
            answers = await ready_statuses(replicas)
            return all(status == 503 and body.get("failing") == ["database"] for status, body in answers)

        await wait_until(failing, 20, "/ready reporting the database failing on every replica")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(topology.postgres.start)  # same port, same data: nothing else touched
        outage = time.monotonic() - outage_started

        async def ready() -> bool:
            return all(status == 200 for status, _ in await ready_statuses(replicas))

        recovered = await wait_until(ready, 30, "/ready answering 200 again on every replica")
        failed_at_recovery = load.stats.failed
        await asyncio.sleep(2.0)
    assert load.stats.failed == failed_at_recovery, load.stats.failures  # nothing fails once it is back
    assert load.stats.failed == 0, load.stats.failures  # and the outage was short enough for retries
    assert load.stats.retry_reasons, "the outage should have been noticed by the clients"
    record(topology, "c_postgres_restart", load, mark, time.monotonic() - started, outage_s=round(outage, 1),
           ready_again_after_s=round(recovered, 1), audit=await audit_clean(topology))  # fmt: skip


async def browser_login(client: httpx.AsyncClient, email: str) -> str:
    page = await client.get("/login", headers={"Accept": "text/html"})
    assert page.status_code == 200
    csrf = page.cookies["coins_csrf"]
    token = re.search(r'name="_csrf_token"\s+value="([^"]+)"', page.text)
    assert token
    response = await client.post(
        "/login",
        data={"_csrf_token": html.unescape(token.group(1)), "email": email, "password": PASSWORD, "next": "/account"},
        headers={"Accept": "text/html", "Cookie": f"coins_csrf={csrf}"},
    )
    assert response.status_code == 303, response.text
    session = response.cookies["coins_session"]
    return f"coins_session={session}; coins_csrf={csrf}"


async def rate_limit_counters(topology: Topology) -> dict[str, tuple[int, int]]:
    """Every rate-limit counter in Valkey: key -> (count, seconds to live)."""
    client = Valkey.from_url(topology.settings.redis.url)
    try:
        keys = [key.decode() async for key in client.scan_iter("ratelimit:*")]
        return {key: (int(await client.get(key) or 0), int(await client.ttl(key))) for key in keys}
    finally:
        await client.aclose()


async def test_d_valkey_restart_keeps_sessions_and_jobs(topology: Topology, arena: Arena) -> None:
    async with httpx.AsyncClient(base_url=topology.url, timeout=15) as client:
        cookie = await browser_login(client, arena.member_email)
        assert (await client.get("/account", headers={"Accept": "text/html", "Cookie": cookie})).status_code == 200
    queue = job_queue(topology.settings)
    await queue.connect()
    key = f"failover-probe-{uuid.uuid4().hex}"
    scheduled = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    await queue.enqueue(Job("sweep_emails", key=key, scheduled=scheduled, timeout=60))
    await queue.disconnect()

    # Rate-limit counters live one minute: start early enough in a minute that this one's outlive the restart.
    if datetime.now(UTC).second > 50:
        await asyncio.sleep(61 - datetime.now(UTC).second)
    mark, started = access_log_length(topology), time.monotonic()
    async with Load(topology.url, arena) as load:
        counters = await rate_limit_counters(topology)
        assert counters, "no rate-limit counters in Valkey"
        await asyncio.to_thread(topology.valkey.stop)  # SIGTERM: Valkey writes its data and exits
        await asyncio.to_thread(topology.valkey.start)  # same port, same data folder (appendonly yes)
        outage = time.monotonic() - started

        async def serving() -> bool:
            async with httpx.AsyncClient(timeout=5) as client:
                return (await client.get(topology.url + "/ready")).status_code == 200

        await wait_until(serving, 30, "/ready through Envoy after the Valkey restart")
        await asyncio.sleep(2.0)
    assert load.stats.failed == 0, load.stats.failures

    # What lives in Valkey came back from the append-only file.
    async with httpx.AsyncClient(base_url=topology.url, timeout=15) as client:
        account = await client.get("/account", headers={"Accept": "text/html", "Cookie": cookie})
        assert account.status_code == 200, "the browser session did not survive the restart"
    queue = job_queue(topology.settings)
    await queue.connect()
    try:
        job = await queue.job(key)
    finally:
        await queue.disconnect()
    assert job is not None, "the scheduled job did not survive the restart"
    after = await rate_limit_counters(topology)
    for key, (count, ttl) in counters.items():
        if ttl > 8:  # still within its minute after the restart
            assert after.get(key, (0, 0))[0] >= count, (key, count, after.get(key))
    assert topology.process is not None and topology.process.poll() is None
    record(topology, "d_valkey_restart", load, mark, time.monotonic() - started, outage_s=round(outage, 1),
           audit=await audit_clean(topology))  # fmt: skip


def test_e_ctrl_c_stops_everything_in_order(topology: Topology) -> None:
    assert topology.process is not None
    pids = topology.all_pids()
    assert pids and all(psutil.pid_exists(pid) for pid in pids)
    os.kill(topology.process.pid, signal.SIGINT)  # what Ctrl-C sends
    code = topology.process.wait(timeout=60)
    log = topology.log()
    assert code == 0, log
    order = ["Stopping Envoy...", "Stopping 2 replicas", "Stopping the worker...", "Cluster stopped."]
    positions = [log.find(line) for line in order]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), log[-2000:]
    time.sleep(0.5)
    left = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not left, left
    assert not topology.state_path.exists()
    # The worker's metrics and the replicas' multiprocess folders were cleaned up.
    assert not list((topology.workdir / "data").glob("metrics-*"))


def test_what_counts_as_a_dependency_outage() -> None:
    """The classification behind the 503s above: connection-level failures only, never a data error."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError, IntegrityError
    from valkey.exceptions import ConnectionError as ValkeyConnectionError

    from coins.lib.errors import dependency_unavailable

    assert dependency_unavailable(asyncpg.CannotConnectNowError("the database system is starting up"))
    assert dependency_unavailable(asyncpg.ConnectionDoesNotExistError("connection was closed"))
    assert dependency_unavailable(asyncpg.TooManyConnectionsError("too many clients"))
    assert dependency_unavailable(ConnectionRefusedError())
    assert dependency_unavailable(ValkeyConnectionError("Connection refused"))
    try:
        try:
            raise asyncpg.AdminShutdownError("terminating connection due to administrator command")
        except asyncpg.PostgresError as inner:
            raise DBAPIError("SELECT 1", {}, Exception("adapted")) from inner
    except DBAPIError as wrapped:
        assert dependency_unavailable(wrapped)
    assert not dependency_unavailable(asyncpg.UniqueViolationError("duplicate key"))
    assert not dependency_unavailable(IntegrityError("INSERT", {}, Exception("duplicate")))
    assert not dependency_unavailable(ValueError("a bug"))
