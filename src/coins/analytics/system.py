"""The system dashboard: PostgreSQL, Valkey, search, the job queue, campaigns and people, recent errors.

Every probe has a short timeout and reports its own failure instead of failing the page: this dashboard
is what an admin opens when something is wrong.

Recent errors come from a small in-process ring buffer of ERROR log records, not from the audit trail.
The audit trail is written in the transaction of a change, so a failed request (rolled back) leaves no
event there by design; the log is where failures go, and the buffer keeps its last entries with their
request ids so an admin can find the full record in the logs.  Each process keeps its own buffer (the
page says which process answered); it starts empty after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.analytics.reports.base import Cell, Column, Figure, Report, Section, Table
from coins.settings import Settings

PROBE_TIMEOUT = 2.0
ERROR_BUFFER_SIZE = 50
logger = logging.getLogger("coins.analytics.system")


# Recent errors ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedError:
    at: datetime
    logger: str
    message: str
    request_id: str
    exception: str


class ErrorBuffer(logging.Handler):
    """Keeps the last ERROR (and worse) records of this process, newest first."""

    def __init__(self, size: int = ERROR_BUFFER_SIZE) -> None:
        super().__init__(level=logging.ERROR)
        self.records: deque[LoggedError] = deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            exception = ""
            if record.exc_info and record.exc_info[0] is not None:
                exception = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"[:300]
            self.records.appendleft(
                LoggedError(
                    at=datetime.fromtimestamp(record.created, UTC),
                    logger=record.name,
                    message=record.getMessage()[:500],
                    request_id=str(getattr(record, "request_id", "") or ""),
                    exception=exception,
                )
            )
        except Exception:  # a log handler must never raise into the code that logged
            self.handleError(record)

    def recent(self, limit: int = 20) -> list[LoggedError]:
        return list(self.records)[:limit]


_buffer: ErrorBuffer | None = None


def install_error_buffer() -> ErrorBuffer:
    """Attach the buffer to the root logger, once per process.

    Called after the Litestar app is built: its logging configuration replaces the root logger's handlers,
    so the buffer is (re-)attached after it, every time an app is created.
    """
    global _buffer  # noqa: PLW0603 - one buffer per process, by design
    if _buffer is None:
        from coins.lib.logging import RequestIdFilter

        _buffer = ErrorBuffer()
        _buffer.addFilter(RequestIdFilter())
    root = logging.getLogger()
    if _buffer not in root.handlers:
        root.addHandler(_buffer)
    return _buffer


def recent_errors(limit: int = 20) -> list[LoggedError]:
    return _buffer.recent(limit) if _buffer is not None else []


# Probes ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    facts: list[tuple[str, str]]
    error: str = ""


@dataclass(frozen=True)
class SystemSnapshot:
    database: Probe
    valkey: Probe
    search: Probe
    queue: Probe
    campaigns: dict[str, int]
    users_total: int
    users_day: int
    users_week: int
    errors: list[LoggedError]
    process: str
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def probes(self) -> list[Probe]:
        return [self.database, self.valkey, self.search, self.queue]


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


async def _guard(name: str, probe: Any) -> Probe:
    try:
        result: Probe = await asyncio.wait_for(probe, PROBE_TIMEOUT)
    except Exception as exc:
        return Probe(name, ok=False, facts=[], error=f"{type(exc).__name__}: {exc}"[:300])
    return result


async def _database(engine: AsyncEngine) -> Probe:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    """
                    SELECT current_setting('server_version') AS version,
                           current_setting('max_connections')::int AS max_connections,
                           (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) AS connections,
                           (SELECT count(*) FROM pg_stat_activity
                             WHERE datname = current_database() AND state = 'active') AS active,
                           pg_database_size(current_database()) AS size,
                           now() - pg_postmaster_start_time() AS uptime
                    """
                )
            )
        ).one()
    uptime = str(row.uptime).split(".")[0]
    return Probe(
        "PostgreSQL",
        ok=True,
        facts=[
            ("Version", str(row.version)),
            ("Connections", f"{row.connections} of {row.max_connections} ({row.active} active)"),
            ("Database size", _size(row.size)),
            ("Up for", uptime),
        ],
    )


async def _valkey(valkey: Any) -> Probe:
    memory = await valkey.info("memory")
    clients = await valkey.info("clients")
    server = await valkey.info("server")
    maxmemory = int(memory.get("maxmemory", 0) or 0)
    return Probe(
        "Valkey",
        ok=True,
        facts=[
            ("Version", str(server.get("valkey_version") or server.get("redis_version") or "?")),
            (
                "Memory used",
                _size(int(memory.get("used_memory", 0))) + (f" of {_size(maxmemory)}" if maxmemory else ""),
            ),
            ("Peak memory", _size(int(memory.get("used_memory_peak", 0)))),
            (
                "Clients",
                f"{clients.get('connected_clients', 0)} connected, {clients.get('blocked_clients', 0)} blocked",
            ),
        ],
    )


async def _search(settings: Settings) -> Probe:
    if not settings.opensearch.url:
        return Probe("Search", ok=True, facts=[("Backend", "PostgreSQL (full text and trigram similarity)")])
    import httpx

    auth = (settings.opensearch.username, settings.opensearch.password) if settings.opensearch.username else None
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT, auth=auth) as client:
        response = await client.get(settings.opensearch.url.rstrip("/") + "/_cluster/health")
        response.raise_for_status()
        health = response.json()
    status = str(health.get("status", "?"))
    return Probe(
        "Search",
        ok=status != "red",
        facts=[
            ("Backend", "OpenSearch"),
            ("Cluster status", status),
            ("Nodes", str(health.get("number_of_nodes", "?"))),
            ("Unassigned shards", str(health.get("unassigned_shards", "?"))),
        ],
        error="" if status != "red" else "The cluster is red: some data is unavailable.",
    )


async def _queue(queue: Any) -> Probe:
    info = await queue.info()
    workers = info.get("workers", {}) or {}
    totals = {"complete": 0, "failed": 0, "retried": 0, "aborted": 0}
    for worker in workers.values():
        for key in totals:
            totals[key] += int(((worker or {}).get("stats") or {}).get(key, 0) or 0)
    return Probe(
        "Job queue (SAQ)",
        ok=bool(workers),
        facts=[
            ("Queue", str(info.get("name", ""))),
            ("Waiting", str(info.get("queued", 0))),
            ("Running", str(info.get("active", 0))),
            ("Scheduled or retrying", str(max(int(info.get("scheduled", 0)), 0))),
            ("Workers", str(len(workers))),
            ("Completed / failed / retried", f"{totals['complete']} / {totals['failed']} / {totals['retried']}"),
        ],
        error="" if workers else "No worker has reported in the last minute: jobs wait until one runs.",
    )


_PEOPLE = text(
    """
    WITH seen AS (
        SELECT id AS user_id, last_login_at AS at FROM users WHERE last_login_at >= now() - interval '7 days'
        UNION ALL
        SELECT actor_id, occurred_at FROM audit_events
        WHERE actor_id IS NOT NULL AND occurred_at >= now() - interval '7 days'
    )
    SELECT (SELECT count(*) FROM users WHERE is_active) AS total,
           count(DISTINCT user_id) FILTER (WHERE at >= now() - interval '1 day') AS day,
           count(DISTINCT user_id) AS week
    FROM seen
    """
)


async def system_snapshot(engine: AsyncEngine, valkey: Any, queue: Any, settings: Settings) -> SystemSnapshot:
    database, cache, search, jobs = await asyncio.gather(
        _guard("PostgreSQL", _database(engine)),
        _guard("Valkey", _valkey(valkey)),
        _guard("Search", _search(settings)),
        _guard("Job queue (SAQ)", _queue(queue)),
    )
    campaigns = dict.fromkeys(("draft", "active", "completed", "archived"), 0)
    users = (0, 0, 0)
    try:
        async with engine.connect() as conn:
            for row in await conn.execute(text("SELECT status, count(*) AS n FROM campaigns GROUP BY status")):
                campaigns[row.status] = int(row.n)
            people = (await conn.execute(_PEOPLE)).one()
            users = (int(people.total), int(people.day), int(people.week))
    except Exception as exc:
        logger.warning("system dashboard: counts unavailable: %s", exc)
    return SystemSnapshot(
        database=database,
        valkey=cache,
        search=search,
        queue=jobs,
        campaigns=campaigns,
        users_total=users[0],
        users_day=users[1],
        users_week=users[2],
        errors=recent_errors(),
        process=f"{socket.gethostname()} pid {os.getpid()}",
    )


def system_report(s: SystemSnapshot) -> Report:
    figures = [
        Figure("Active campaigns", s.campaigns.get("active", 0)),
        Figure("People active today", s.users_day, hint="logged in or changed something in the last 24 hours"),
        Figure("People active this week", s.users_week, hint="in the last 7 days"),
        Figure("Accounts", s.users_total, hint="active accounts"),
        Figure("Recent errors", len(s.errors), hint=f"logged by {s.process}"),
    ]
    health: list[list[Cell]] = [
        [probe.name, "ok" if probe.ok else "failing", name, value]
        for probe in s.probes
        for name, value in (probe.facts or [("Error", probe.error)])
    ]
    health += [[p.name, "failing", "Error", p.error] for p in s.probes if p.facts and p.error]
    sections = [
        Section(
            "health",
            "Services",
            "Each service the app depends on and what it reports.",
            Table(
                [Column("Service"), Column("Status"), Column("Measure"), Column("Value")],
                health,
            ),
        ),
        Section(
            "campaigns",
            "Campaigns by status",
            "How many campaigns are in each status.",
            Table(
                [Column("Status"), Column("Campaigns", "int")], [[k.capitalize(), v] for k, v in s.campaigns.items()]
            ),
        ),
        Section(
            "errors",
            "Recent errors",
            f"The last errors logged by this process ({s.process}), newest first.",
            Table(
                [Column("When", "datetime"), Column("Where"), Column("Message"), Column("Request id")],
                [
                    [e.at, e.logger, e.message + (f" ({e.exception})" if e.exception else ""), e.request_id]
                    for e in s.errors
                ],
            ),
            empty="No error logged since this process started.",
        ),
    ]
    return Report(
        title="System dashboard",
        subtitle=f"Answered by {s.process}",
        figures=figures,
        sections=sections,
        generated_at=s.taken_at,
        notes=[
            "People active = accounts that logged in or whose action was recorded in the audit trail "
            "(coin operations are in the ledger, not the audit trail, and are not counted here).",
        ],
    )
