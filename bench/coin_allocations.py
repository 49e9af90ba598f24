"""Benchmark: coin allocations through the real app, against baselines measured in the same run.

    nox -s bench            (or: python bench/coin_allocations.py [--duration 15] [--connections 64])

What runs, all on this machine and on the same embedded PostgreSQL:
  * pgbench, TPC-B-like (the database's own ceiling for small write transactions), and select-only;
  * a plain Litestar "hello" endpoint behind granian (the HTTP ceiling);
  * allocations through the whole middleware stack (bearer auth, rate-limit/maintenance gate, metrics,
    the coin function), for (a) one app process with two granian workers and (b) two replicas behind Envoy,
    each for two shapes: allocations spread over 200 ideas, and every member piling onto one hot idea.
The load generator is wrk (Debian package), which posts as many members with real bearer tokens.  After
every run the ledger audit must be clean.  Results go to bench/results/coin-allocations.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402
from tests.support.envoy import EnvoyProcess  # noqa: E402
from tests.support.servers import TEST_JWT_SECRET, TEST_SECRET, AppProcess, wait_for_http  # noqa: E402

from coins.accounts.tokens import issue_access_token  # noqa: E402
from coins.cli import run_migrations  # noqa: E402
from coins.coins.audit import run_audit  # noqa: E402
from coins.lib.embedded import EmbeddedPostgres, EmbeddedValkey, free_port  # noqa: E402
from coins.settings import load_settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MEMBERS = 400
SPREAD_IDEAS = 200


@dataclass
class Run:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update"], check=True, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed (Debian package 'wrk'); install it or run as root so the bench can.")
    return found


def parse_wrk(name: str, output: str) -> Run:
    def duration(token: str) -> float:
        value, unit = re.match(r"([\d.]+)(\w+)", token).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    distribution = output[output.index("Latency Distribution") :]
    p50 = duration(re.search(r"50%\s+([\d.]+\w+)", distribution).group(1))  # type: ignore[union-attr]
    p99 = duration(re.search(r"99%\s+([\d.]+\w+)", distribution).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(g) for g in match.groups())
    return Run(name=name, requests_per_second=rps, p50_ms=p50, p99_ms=p99, errors=errors, requests=total)


def run_wrk(wrk: str, name: str, url: str, *, script: Path | None, duration: int, connections: int) -> Run:
    command = [wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    run = parse_wrk(name, output)
    print(f"  {name}: {run.requests_per_second:,.0f} req/s, p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, "
          f"errors {run.errors}")  # fmt: skip
    return run


def lua_script(path: Path, *, slug: str, tokens: list[str], ideas: list[int]) -> Path:
    """wrk posts allocations as random members onto random ideas of the list, one coin each."""
    path.write_text(
        "local tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\n"
        "local ideas = {" + ",".join(str(i) for i in ideas) + "}\n"
        "math.randomseed(os.time())\n"
        "request = function()\n"
        "  local token = tokens[math.random(#tokens)]\n"
        "  local idea = ideas[math.random(#ideas)]\n"
        "  local body = '{\"idea_id\": ' .. idea .. ', \"amount\": 1}'\n"
        "  return wrk.format('POST', '/api/campaigns/" + slug + "/coins/allocate',\n"
        "    {['Authorization'] = 'Bearer ' .. token, ['Content-Type'] = 'application/json'}, body)\n"
        "end\n",
        encoding="utf-8",
    )
    return path


def pgbench(postgres: EmbeddedPostgres, *, duration: int) -> dict[str, float]:
    postgres.create_database("pgbench")
    env = {**os.environ, "PGPASSWORD": postgres.password}
    base = [str(postgres.bin_dir() / "pgbench"), "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres"]
    subprocess.run([*base, "-i", "-s", "1", "-q", "pgbench"], check=True, capture_output=True, env=env)
    results = {}
    for name, extra in (("tpcb_like", []), ("select_only", ["-S"])):
        output = subprocess.run(
            [*base, "-c", "8", "-j", "2", "-T", str(duration), *extra, "pgbench"],
            check=True, capture_output=True, text=True, env=env,
        ).stdout  # fmt: skip
        tps = float(re.search(r"tps = ([\d.]+)", output).group(1))  # type: ignore[union-attr]
        print(f"  pgbench {name}: {tps:,.0f} TPS")
        results[name] = tps
    return results


HELLO_APP = """
from litestar import Litestar, get

@get("/", sync_to_thread=False)
def hello() -> str:
    return "hello"

app = Litestar([hello])
"""


def hello_baseline(wrk: str, workdir: Path, *, duration: int, connections: int) -> Run:
    (workdir / "hello_app.py").write_text(HELLO_APP, encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "2", "--port", str(port),
         "hello_app:app"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", process=process)
        return run_wrk(wrk, "plain Litestar hello (2 workers)", f"http://127.0.0.1:{port}/", script=None,
                       duration=duration, connections=connections)  # fmt: skip
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


async def seed(database_url: str, jwt_settings: Any) -> tuple[str, list[str], list[int], int]:
    """A campaign with MEMBERS members (rich enough never to run out), 200 ideas and one hot idea."""
    engine = create_async_engine(database_url)
    campaign_id, slug = uuid.uuid4(), f"bench-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    users = [uuid.uuid4() for _ in range(MEMBERS)]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO campaigns (id, slug, title, description, description_html, starts_at, ends_at, "
                "campaign_type, status, initial_allocation, idea_submission_reward, allow_reallocation, "
                "allow_recycling, min_allocation_amount, pricing, created_at, updated_at) VALUES "
                "(:id, :slug, 'Bench', '', '', :start, :end, 'open', 'active', 1000000, 0, true, true, 1, 'linear', "
                "now(), now())"
            ),
            {"id": campaign_id, "slug": slug, "start": now - timedelta(days=1), "end": now + timedelta(days=30)},
        )
        await conn.execute(
            text(
                "INSERT INTO users (id, email, full_name, password_hash, created_at, updated_at) "
                "SELECT u, 'bench-' || u || '@example.org', 'Bench member', 'x', now(), now() "
                "FROM unnest(CAST(:ids AS uuid[])) AS u"
            ),
            {"ids": users},
        )
        await conn.execute(
            text(
                "INSERT INTO campaign_members (id, campaign_id, user_id, role) "
                "SELECT gen_random_uuid(), :c, u, 'member' FROM unnest(CAST(:ids AS uuid[])) AS u"
            ),
            {"c": campaign_id, "ids": users},
        )
        await conn.execute(
            text(
                "WITH granted AS (INSERT INTO coin_balances (campaign_id, user_id, granted, available) "
                "SELECT :c, u, 1000000, 1000000 FROM unnest(CAST(:ids AS uuid[])) AS u RETURNING user_id) "
                "INSERT INTO coin_ledger (campaign_id, user_id, kind, amount, reason) "
                "SELECT :c, user_id, 'grant', 1000000, 'bench' FROM granted"
            ),
            {"c": campaign_id, "ids": users},
        )
        rows = await conn.execute(
            text(
                "INSERT INTO ideas (campaign_id, title, description, description_html, status) "
                "SELECT :c, 'Idea ' || n, 'x', '', 'competing' FROM generate_series(1, :n) AS n RETURNING id"
            ),
            {"c": campaign_id, "n": SPREAD_IDEAS + 1},
        )
        ideas = sorted(r.id for r in rows)
    await engine.dispose()
    tokens = [issue_access_token(jwt_settings, user_id=u, stamp=0) for u in users]
    return slug, tokens, ideas[:SPREAD_IDEAS], ideas[SPREAD_IDEAS]


async def audit(database_url: str) -> str:
    engine = create_async_engine(database_url)
    try:
        report = await run_audit(engine)
    finally:
        await engine.dispose()
    if not report.clean:
        sys.exit("AUDIT FAILED after the benchmark:\n" + report.summary())
    return report.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    wrk = ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="bench-", dir=ROOT / ".coins"))
    postgres = EmbeddedPostgres(workdir / "postgres", database="coins_bench")
    valkey = EmbeddedValkey(workdir / "valkey")
    runs: list[Run] = []
    try:
        database_url = postgres.start()
        redis_url = valkey.start()
        env = {
            "ENVIRONMENT": "test", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "SECRET_KEY": TEST_SECRET, "JWT_SECRET_KEY": TEST_JWT_SECRET, "RATE_LIMIT_PER_MINUTE": "0",
            "AUTH_RATE_LIMIT_PER_MINUTE": "0", "LOG_LEVEL": "WARNING", "WORKER_IN_PROCESS": "false",
            "DATABASE_POOL_SIZE": "20", "DATABASE_MAX_OVERFLOW": "0", "DATA_DIR": str(workdir / "data"),
        }  # fmt: skip
        settings = load_settings(env)
        run_migrations(settings)
        slug, tokens, spread, hot = asyncio.run(seed(database_url, settings.security))
        spread_script = lua_script(workdir / "spread.lua", slug=slug, tokens=tokens, ideas=spread)
        hot_script = lua_script(workdir / "hot.lua", slug=slug, tokens=tokens, ideas=[hot])

        print("Baselines")
        pg = pgbench(postgres, duration=args.duration)
        runs.append(hello_baseline(wrk, workdir, duration=args.duration, connections=args.connections))

        print("(a) one app process, two workers")
        app = AppProcess(env=env, workers=2).start()
        try:
            for shape, script in (("spread over 200 ideas", spread_script), ("one hot idea", hot_script)):
                runs.append(run_wrk(wrk, f"direct, {shape}", app.url, script=script,
                                    duration=args.duration, connections=args.connections))  # fmt: skip
                print("   ", asyncio.run(audit(database_url)))
        finally:
            app.stop()

        print("(b) two replicas behind Envoy")
        replicas = [AppProcess(env=env).start(), AppProcess(env=env).start()]
        envoy = EnvoyProcess([r.port for r in replicas]).start()
        try:
            for shape, script in (("spread over 200 ideas", spread_script), ("one hot idea", hot_script)):
                runs.append(run_wrk(wrk, f"Envoy + 2 replicas, {shape}", envoy.url, script=script,
                                    duration=args.duration, connections=args.connections))  # fmt: skip
                print("   ", asyncio.run(audit(database_url)))
        finally:
            envoy.stop()
            for replica in replicas:
                replica.stop()
        write_results(pg, runs, args)
    finally:
        valkey.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def write_results(pg: dict[str, float], runs: list[Run], args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tpcb = pg["tpcb_like"]
    lines = [
        "# Coin allocation benchmark",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores; wrk -t2 -c{args.connections} "
        f"-d{args.duration}s; {MEMBERS} members with bearer tokens, one coin per request.",
        "",
        f"Baseline pgbench on the same PostgreSQL (8 clients): TPC-B-like **{tpcb:,.0f} TPS**, "
        f"select-only {pg['select_only']:,.0f} TPS.",
        "",
        "| run | requests/s | p50 ms | p99 ms | errors | ratio to pgbench TPC-B |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {run.name} | {run.requests_per_second:,.0f} | {run.p50_ms:.1f} | {run.p99_ms:.1f} | {run.errors} | "
        f"{run.requests_per_second / tpcb:.2f} |"
        for run in runs
    )
    lines += ["", "The ledger audit was clean after every allocation run."]
    (RESULTS / "coin-allocations.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "coin-allocations.json").write_text(
        json.dumps({"pgbench": pg, "runs": [asdict(r) for r in runs], "measured_at": time.time()}, indent=2),
        encoding="utf-8",
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
