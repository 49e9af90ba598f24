"""Benchmark: coin allocations through the real app, against baselines measured in the same run.

    nox -s bench            (or: python bench/coin_allocations.py [--duration 15] [--connections 64])

What runs, all on this machine and on the same embedded PostgreSQL:
  * pgbench, TPC-B-like (the database's own ceiling for small write transactions), and select-only;
  * a plain Litestar "hello" endpoint behind granian (the HTTP ceiling);
  * allocations through the whole middleware stack (bearer auth, rate-limit/maintenance gate, metrics,
    the coin function), for (a) one app process with two granian workers and (b) two replicas behind Envoy,
    each for two shapes: allocations spread over 200 ideas, and every member piling onto one hot idea.
The load generator is wrk (Debian package), which posts as many members with real bearer tokens.  After
every run the ledger audit must be clean.  Each run is repeated (--rounds) and the median kept, because the
machine is shared.  Results go to bench/results/coin-allocations.{md,json}.
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
from coins.cli.common import run_migrations  # noqa: E402
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
    # pgbench TPC-B measured just before this run on the same PostgreSQL: the machine is shared and its
    # speed drifts by tens of percent within minutes, so each run is compared with its own neighbour.
    baseline_tps: float = 0.0

    @property
    def ratio(self) -> float:
        return self.requests_per_second / self.baseline_tps if self.baseline_tps else 0.0


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


class PgBench:
    """pgbench on the benchmark's PostgreSQL (its own database, scale 1, 8 clients)."""

    def __init__(self, postgres: EmbeddedPostgres) -> None:
        postgres.create_database("pgbench")
        self.env = {**os.environ, "PGPASSWORD": postgres.password}
        self.base = [str(postgres.bin_dir() / "pgbench"), "-h", "127.0.0.1", "-p", str(postgres.port),
                     "-U", "postgres"]  # fmt: skip
        subprocess.run([*self.base, "-i", "-s", "1", "-q", "pgbench"], check=True, capture_output=True, env=self.env)

    def tps(self, *, duration: int, select_only: bool = False) -> float:
        output = subprocess.run(
            [*self.base, "-c", "8", "-j", "2", "-T", str(duration), *(["-S"] if select_only else []), "pgbench"],
            check=True, capture_output=True, text=True, env=self.env,
        ).stdout  # fmt: skip
        return float(re.search(r"tps = ([\d.]+)", output).group(1))  # type: ignore[union-attr]


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


SHAPES = ("spread over 200 ideas", "one hot idea")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per allocation run")
    parser.add_argument("--baseline-duration", type=int, default=10, help="seconds of pgbench before each run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per topology and shape (the median is kept)")
    parser.add_argument("--connections", type=int, default=64)
    return parser.parse_args()


def main() -> None:
    args = arguments()
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
        scripts = {
            SHAPES[0]: lua_script(workdir / "spread.lua", slug=slug, tokens=tokens, ideas=spread),
            SHAPES[1]: lua_script(workdir / "hot.lua", slug=slug, tokens=tokens, ideas=[hot]),
        }

        print("Baselines")
        bench = PgBench(postgres)
        pg = {
            "tpcb_like": bench.tps(duration=args.duration),
            "select_only": bench.tps(duration=args.duration, select_only=True),
        }
        print(f"  pgbench TPC-B-like {pg['tpcb_like']:,.0f} TPS, select-only {pg['select_only']:,.0f} TPS")
        hello = hello_baseline(wrk, workdir, duration=args.duration, connections=args.connections)
        hello.baseline_tps = pg["tpcb_like"]
        runs.append(hello)

        def measure(topology: str, url: str) -> None:
            for round_number in range(1, args.rounds + 1):
                for shape, script in scripts.items():
                    baseline = bench.tps(duration=args.baseline_duration)
                    run = run_wrk(wrk, f"{topology}, {shape}", url, script=script, duration=args.duration,
                                  connections=args.connections)  # fmt: skip
                    run.baseline_tps = baseline
                    runs.append(run)
                    print(f"    round {round_number}: pgbench just before {baseline:,.0f} TPS, ratio {run.ratio:.2f}; "
                          + asyncio.run(audit(database_url)))  # fmt: skip

        print("(a) one app process, two workers")
        app = AppProcess(env=env, workers=2).start()
        try:
            measure("direct", app.url)
        finally:
            app.stop()

        print("(b) two replicas behind Envoy")
        replicas = [AppProcess(env=env).start(), AppProcess(env=env).start()]
        envoy = EnvoyProcess([r.port for r in replicas]).start()
        try:
            measure("Envoy + 2 replicas", envoy.url)
        finally:
            envoy.stop()
            for replica in replicas:
                replica.stop()
        write_results(pg, runs, args)
    finally:
        valkey.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def median_run(runs: list[Run]) -> Run:
    ordered = sorted(runs, key=lambda run: run.ratio)
    return ordered[(len(ordered) - 1) // 2]


def write_results(pg: dict[str, float], runs: list[Run], args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    hello, allocation_runs = runs[0], runs[1:]
    names = list(dict.fromkeys(run.name for run in allocation_runs))
    lines = [
        "# Coin allocation benchmark",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores (shared by PostgreSQL, Valkey, "
        f"the app, Envoy and wrk); wrk -t2 -c{args.connections} -d{args.duration}s; {MEMBERS} members with bearer "
        "tokens, one coin per request, rate limits off.",
        "",
        f"Every allocation run is compared with pgbench TPC-B-like (8 clients, {args.baseline_duration} s) run on the "
        f"same PostgreSQL just before it; each row is the median of {args.rounds} rounds by that ratio (all "
        "rounds in coin-allocations.json).",
        "",
        f"Baselines at the start: pgbench TPC-B-like {pg['tpcb_like']:,.0f} TPS, select-only "
        f"{pg['select_only']:,.0f} TPS; plain Litestar hello (granian, 2 workers) {hello.requests_per_second:,.0f} "
        f"req/s, p50 {hello.p50_ms:.1f} ms, p99 {hello.p99_ms:.1f} ms.",
        "",
        "| run | allocations/s | p50 ms | p99 ms | errors | pgbench TPS just before | ratio | ratio range |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        rounds = [run for run in allocation_runs if run.name == name]
        middle = median_run(rounds)
        low, high = min(r.ratio for r in rounds), max(r.ratio for r in rounds)
        lines.append(
            f"| {name} | {middle.requests_per_second:,.0f} | {middle.p50_ms:.1f} | {middle.p99_ms:.1f} | "
            f"{sum(r.errors for r in rounds)} | {middle.baseline_tps:,.0f} | **{middle.ratio:.2f}** | "
            f"{low:.2f}-{high:.2f} |"
        )
    lines += ["", "The ledger audit was clean after every allocation run."]
    (RESULTS / "coin-allocations.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "coin-allocations.json").write_text(
        json.dumps(
            {
                "pgbench": pg,
                "runs": [{**asdict(r), "ratio": round(r.ratio, 3)} for r in runs],
                "measured_at": time.time(),
                "arguments": vars(args),
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
