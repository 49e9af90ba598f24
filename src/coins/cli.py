"""The `coins` command: serve, worker, db, users, maintenance, search.

Heavy imports stay inside the commands: `coins serve` must set PROMETHEUS_MULTIPROC_DIR before anything
imports prometheus-client, and `coins --help` should be instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from coins.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from coins.lib.embedded import EmbeddedPostgres, EmbeddedValkey

FIRST_ADMIN_EMAIL = "admin@coins.local"
WORKER_METRICS_PORT = 9091


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(overrides=overrides or None)
    except ConfigError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="coins-for-change")
def main() -> None:
    """Coins for Change: gather ideas and prioritise them with virtual coins."""


# Embedded servers ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def embedded_services(settings: Settings, *, echo: bool = True) -> Iterator[Settings]:
    """Start embedded PostgreSQL/Valkey for whichever URL is not configured; stop them on exit."""
    from coins.lib.embedded import EmbeddedPostgres, EmbeddedValkey

    started: list[EmbeddedPostgres | EmbeddedValkey] = []
    try:
        if not settings.database.url:
            postgres = EmbeddedPostgres(settings.data_path / "postgres")
            os.environ["DATABASE_URL"] = postgres.start()
            started.append(postgres)
            if echo:
                click.echo(f"  PostgreSQL (embedded) on 127.0.0.1:{postgres.port}, data in {postgres.root}")
        if not settings.redis.url:
            valkey = EmbeddedValkey(settings.data_path / "valkey")
            os.environ["REDIS_URL"] = valkey.start()
            started.append(valkey)
            if echo:
                click.echo(f"  Valkey (embedded) on 127.0.0.1:{valkey.port}, data in {valkey.root}")
        yield _settings()
    finally:
        for server in reversed(started):
            server.stop()
        if started and echo:
            click.echo("Embedded servers stopped.")


def run_migrations(settings: Settings, revision: str = "head") -> None:
    from advanced_alchemy.alembic.commands import AlembicCommands

    from coins.lib.db import make_sqlalchemy_config

    AlembicCommands(sqlalchemy_config=make_sqlalchemy_config(settings)).upgrade(revision=revision)


async def _first_admin(settings: Settings) -> tuple[str, str] | None:
    """On a fresh database make an admin with a random password; return (email, password) if made."""
    from coins.accounts.services import AccountService
    from coins.lib.db import make_sqlalchemy_config, standalone_session

    config = make_sqlalchemy_config(settings)
    try:
        async with standalone_session(config) as session:
            accounts = AccountService(session, settings.security)
            if await accounts.any_admin():
                return None
            password = "Coins-" + secrets.token_urlsafe(9) + "7a"
            await accounts.ensure_admin(email=FIRST_ADMIN_EMAIL, password=password)
            return FIRST_ADMIN_EMAIL, password
    finally:
        await config.get_engine().dispose()


def _ensure_front_end() -> None:
    """Install htmx, its SSE extension and Pico from the npm registry when they are missing."""
    from coins.settings import project_root

    root = project_root()
    vendor = root / "static" / "vendor"
    if (vendor / "htmx.min.js").is_file() or not (root / "package.json").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        click.secho("npm not found: install Node.js 20 to fetch the front-end libraries.", fg="red", err=True)
        sys.exit(2)
    click.echo("Installing front-end libraries (npm ci)...")
    import subprocess

    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=root, check=True)  # noqa: S603


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1, or HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8000, or PORT).")
@click.option("--workers", type=int, default=None, help="Web worker processes (default 1, or WEB_CONCURRENCY).")
@click.option("--worker/--no-worker", "in_process_worker", default=None, help="Run the SAQ worker in-process.")
@click.option(
    "--migrate/--no-migrate",
    default=None,
    help="Apply migrations first (default: in development; production runs `coins db upgrade` as a job).",
)
def serve(
    host: str | None,
    port: int | None,
    workers: int | None,
    in_process_worker: bool | None,
    migrate: bool | None,
) -> None:
    """Run the web app. With no DATABASE_URL / REDIS_URL it starts embedded PostgreSQL and Valkey."""
    settings = _settings()
    metrics_dir = _fresh_metrics_dir(settings, f"metrics-{os.getpid()}")
    # Before anything imports prometheus-client: every web worker writes its samples here.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    if host:
        os.environ["HOST"] = host
    if port:
        os.environ["PORT"] = str(port)
    if workers:
        os.environ["WEB_CONCURRENCY"] = str(workers)
    if in_process_worker is not None:
        os.environ["WORKER_IN_PROCESS"] = "true" if in_process_worker else "false"
    _ensure_front_end()

    click.echo("Starting Coins for Change...")
    try:
        with embedded_services(_settings()) as settings:
            local = settings.app.environment in {"development", "test"}
            if migrate if migrate is not None else local:
                run_migrations(settings)
            # A first admin with a printed password is a laptop convenience, never a production log line.
            made = asyncio.run(_first_admin(settings)) if local else None
            _serve_forever(settings, made)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve_forever(settings: Settings, first_admin: tuple[str, str] | None) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    url = f"http://{settings.app.host}:{settings.app.port}"
    click.echo("")
    click.secho(f"Coins for Change is running at {url}", fg="green", bold=True)
    if first_admin:
        email, password = first_admin
        click.secho(f"First run: log in at {url}/login as {email} with password {password}", fg="yellow")
        click.echo("  (shown once; change it on your account page, or reset it with `coins users create-admin`)")
    click.echo("Press Ctrl-C to stop.\n")
    Granian(
        "coins.app:create_app",
        factory=True,
        address=settings.app.host,
        port=settings.app.port,
        interface=Interfaces.ASGI,
        workers=settings.app.workers,
        log_access=False,
        workers_kill_timeout=30,
    ).serve()


def _fresh_metrics_dir(settings: Settings, name: str) -> Path:
    """An empty folder for prometheus-client's multiprocess files: inside PROMETHEUS_MULTIPROC_DIR when
    that is set (the containers mount an emptyDir there), else inside DATA_DIR. A restarted container
    must not add its predecessor's counts to its own, hence a new folder per process."""
    base = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.data_path)
    folder = base / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@main.command()
@click.option(
    "--metrics-host", default="0.0.0.0", show_default=True, envvar="WORKER_METRICS_HOST",  # noqa: S104
    help="Address of the worker's /metrics (job counts, queue depth).",
)  # fmt: skip
@click.option(
    "--metrics-port", type=int, default=None, envvar="WORKER_METRICS_PORT",
    help=f"Port of the worker's /metrics; 0 turns it off. Default: {WORKER_METRICS_PORT} in staging and "
    "production, off elsewhere (several local workers would fight over one port).",
)  # fmt: skip
def worker(metrics_host: str, metrics_port: int | None) -> None:
    """Run the SAQ worker on its own (production runs it as a separate deployment)."""
    settings = _settings()
    if not settings.database.url or not settings.redis.url:
        click.secho(
            "coins worker needs DATABASE_URL and REDIS_URL (start `coins serve` for the embedded setup).",
            fg="red",
            err=True,
        )
        sys.exit(2)
    metrics_dir = _fresh_metrics_dir(settings, f"metrics-worker-{os.getpid()}")
    # Before anything imports prometheus-client (coins.worker does): job metrics go to files there.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    from coins.lib.logging import configure_logging
    from coins.worker import make_queue, make_worker

    configure_logging(settings.logging.level, settings.logging.format)

    async def run() -> None:
        queue = make_queue(settings)
        await queue.connect()
        work = make_worker(settings, queue)
        server = None
        port = metrics_port
        if port is None:
            port = WORKER_METRICS_PORT if settings.app.environment in {"staging", "production"} else 0
        if port:
            from coins.ops.worker_metrics import serve_worker_metrics

            try:
                server = serve_worker_metrics(queue, asyncio.get_running_loop(), metrics_host, port)
            except OSError as exc:
                # Jobs matter more than their metrics: keep working (the liveness probe on /metrics
                # reports the problem where one is configured).
                click.secho(f"worker metrics not served on {metrics_host}:{port}: {exc}", fg="red", err=True)
        try:
            await work.start()
        finally:
            if server is not None:
                server.shutdown()
            await work.stop()
            await queue.disconnect()

    click.echo(f"SAQ worker on queue '{settings.worker.queue_name}' (concurrency {settings.worker.concurrency}).")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


# Database -----------------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations (Alembic)."""


@contextlib.contextmanager
def _database_settings() -> Iterator[Settings]:
    settings = _settings()
    if settings.database.url:
        yield settings
        return
    with embedded_services(settings, echo=False) as embedded:
        yield embedded


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    with _database_settings() as settings:
        run_migrations(settings, revision)
    click.echo(f"Database upgraded to {revision}.")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (e.g. -1, or base)."""
    from advanced_alchemy.alembic.commands import AlembicCommands

    from coins.lib.db import make_sqlalchemy_config

    with _database_settings() as settings:
        AlembicCommands(sqlalchemy_config=make_sqlalchemy_config(settings)).downgrade(revision=revision)
    click.echo(f"Database downgraded to {revision}.")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
@click.option("--autogenerate/--empty", default=True, help="Compare models with the database.")
def db_revision(message: str, autogenerate: bool) -> None:
    """Create a new migration file under migrations/versions/."""
    from advanced_alchemy.alembic.commands import AlembicCommands

    from coins.lib.db import make_sqlalchemy_config

    with _database_settings() as settings:
        AlembicCommands(sqlalchemy_config=make_sqlalchemy_config(settings)).revision(
            message=message, autogenerate=autogenerate
        )


# Users --------------------------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Manage accounts."""


@users.command("create-admin")
@click.argument("email")
@click.option("--password", default=None, help="The password (prompted for when omitted).")
@click.option("--name", "full_name", default="Administrator", show_default=True)
def create_admin(email: str, password: str | None, full_name: str) -> None:
    """Create an admin account, or make an existing account admin with this password."""
    from coins.accounts.services import AccountService
    from coins.lib.db import make_sqlalchemy_config, standalone_session
    from coins.lib.errors import AppError

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def run(settings: Settings) -> tuple[str, bool]:
        config = make_sqlalchemy_config(settings)
        try:
            async with standalone_session(config) as session:
                user, created = await AccountService(session, settings.security).ensure_admin(
                    email=email, password=password or "", full_name=full_name
                )
                return user.email, created
        finally:
            await config.get_engine().dispose()

    with _database_settings() as settings:
        try:
            address, created = asyncio.run(run(settings))
        except AppError as exc:
            click.secho(exc.message, fg="red", err=True)
            sys.exit(1)
    click.echo(f"{'Created' if created else 'Updated'} admin {address}.")


# Audit --------------------------------------------------------------------------------------------------


@main.command()
def audit() -> None:
    """Re-derive every balance and idea total from the ledger; exit 1 if anything differs."""
    from coins.coins.audit import run_audit
    from coins.lib.db import make_sqlalchemy_config

    async def run(settings: Settings) -> bool:
        engine = make_sqlalchemy_config(settings).get_engine()
        try:
            report = await run_audit(engine)
        finally:
            await engine.dispose()
        click.echo(report.summary())
        return report.clean

    with _database_settings() as settings:
        clean = asyncio.run(run(settings))
    sys.exit(0 if clean else 1)


# Maintenance --------------------------------------------------------------------------------------------


@main.command()
@click.argument("state", type=click.Choice(["on", "off", "status"]))
@click.option("--message", default="", help="Shown on the maintenance page.")
def maintenance(state: str, message: str) -> None:
    """Switch maintenance mode for every replica (or show it)."""
    from coins.lib.db import make_sqlalchemy_config, standalone_session
    from coins.lib.maintenance import get_maintenance, set_maintenance, switch_maintenance
    from coins.lib.valkey import make_valkey

    settings = _settings()
    if not settings.redis.url:
        click.secho("REDIS_URL is not set: maintenance mode lives in the shared Valkey.", fg="red", err=True)
        sys.exit(2)

    async def run() -> str:
        client = make_valkey(settings)
        try:
            if state == "status":
                current = await get_maintenance(client)
            elif settings.database.url:  # the switch goes to the audit trail too
                config = make_sqlalchemy_config(settings)
                try:
                    async with standalone_session(config) as session:
                        current = await switch_maintenance(
                            client, session, enabled=state == "on", message=message, by="cli", actor_id=None
                        )
                finally:
                    await config.get_engine().dispose()
            else:
                current = await set_maintenance(client, enabled=state == "on", message=message, by="cli")
        finally:
            await client.aclose()
        return f"Maintenance mode is {'on' if current.enabled else 'off'}." + (
            f" Message: {current.message}" if current.message else ""
        )

    click.echo(asyncio.run(run()))


# Search -------------------------------------------------------------------------------------------------


@main.group()
def search() -> None:
    """The search index (OpenSearch, when OPENSEARCH_URL is set)."""


@search.command("reindex")
@click.option("--campaign", "slug", default=None, help="Only this campaign's ideas (by slug).")
@click.option(
    "--recreate",
    is_flag=True,
    help="Build a fresh index beside the live one and switch to it (all campaigns).",
)
def search_reindex(slug: str | None, recreate: bool) -> None:
    """Write every idea from PostgreSQL into the search index."""
    from sqlalchemy import select

    from coins.campaigns.models import Campaign
    from coins.lib.db import make_sqlalchemy_config, standalone_session
    from coins.search import SearchClient
    from coins.search.opensearch import OpenSearchSearch, alias_name

    if recreate and slug:
        click.secho("--recreate rebuilds the whole index: leave out --campaign.", fg="red", err=True)
        sys.exit(2)

    async def run(settings: Settings) -> int:
        client = SearchClient(settings.opensearch)
        opensearch = client.get()
        assert opensearch is not None
        config = make_sqlalchemy_config(settings)
        try:
            async with standalone_session(config) as session:
                backend = OpenSearchSearch(opensearch, index=alias_name(settings.opensearch), session=session)
                if recreate:
                    return await backend.rebuild()
                campaign_id = None
                if slug:
                    campaign_id = await session.scalar(select(Campaign.id).where(Campaign.slug == slug))
                    if campaign_id is None:
                        click.secho(f"No campaign {slug!r}.", fg="red", err=True)
                        sys.exit(1)
                return await backend.reindex(campaign_id)
        finally:
            await client.close()
            await config.get_engine().dispose()

    settings = _settings()
    if not settings.opensearch.url:
        click.echo(
            "OPENSEARCH_URL is not set: search runs in PostgreSQL, whose search columns are generated and "
            "always current. Nothing to reindex."
        )
        return
    if not settings.database.url:
        click.secho("coins search reindex needs DATABASE_URL.", fg="red", err=True)
        sys.exit(2)
    count = asyncio.run(run(settings))
    click.echo(f"Indexed {count} ideas into {alias_name(settings.opensearch)}.")


# Operations: the production topology on one machine, backups ----------------------------------------------


@main.command()
@click.option("--replicas", type=int, default=2, show_default=True, help="Web replicas behind Envoy.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address Envoy listens on.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port Envoy listens on.")
@click.option(
    "--drain-seconds", type=float, default=30.0, show_default=True,
    help="How long a replica may take to finish in-flight requests after SIGTERM.",
)  # fmt: skip
def cluster(replicas: int, host: str, port: int, drain_seconds: float) -> None:
    """Production topology on one machine: N replicas, a worker and Envoy (deploy/envoy/envoy.yaml).

    Uses DATABASE_URL / REDIS_URL, or starts embedded PostgreSQL and Valkey. Crashed processes are
    started again; SIGHUP (`kill -HUP PID`) restarts the replicas one at a time; Ctrl-C stops Envoy, then
    the replicas (draining), then the worker, then the databases.
    """
    from coins.ops.cluster import Cluster

    if replicas < 1:
        click.secho("--replicas must be at least 1.", fg="red", err=True)
        sys.exit(2)
    _ensure_front_end()
    click.echo(f"Starting Coins for Change: {replicas} replicas, a worker and Envoy...")
    with embedded_services(_settings()) as settings:
        local = settings.app.environment in {"development", "test"}
        if local:
            run_migrations(settings)
        made = asyncio.run(_first_admin(settings)) if local else None
        env = {
            **os.environ,
            "DATABASE_URL": settings.database.url,
            "REDIS_URL": settings.redis.url,
            "WORKER_IN_PROCESS": "false",
            # Envoy is the one proxy in front: the replicas believe the address it appends.
            "TRUSTED_PROXY_COUNT": os.environ.get("TRUSTED_PROXY_COUNT", "1"),
            "PYTHONUNBUFFERED": "1",
        }
        group = Cluster(
            replicas=replicas,
            data_dir=settings.data_path,
            env=env,
            host=host,
            port=port,
            drain_seconds=drain_seconds,
            say=click.echo,
        )
        try:
            group.start()
        except (RuntimeError, OSError) as exc:
            group.stop()
            click.secho(f"Could not start the cluster: {exc}", fg="red", err=True)
            sys.exit(1)
        click.echo("")
        click.secho(f"Coins for Change cluster is running at {group.url}", fg="green", bold=True)
        if made:
            email, password = made
            click.secho(f"First run: log in at {group.url}/login as {email} with password {password}", fg="yellow")
        click.echo(f"State in {group.state_path}; `kill -HUP {os.getpid()}` restarts the replicas one by one.")
        click.echo("Press Ctrl-C to stop.\n")
        group.run_forever()


def _database_url_or_exit(settings: Settings) -> str:
    if not settings.database.url:
        click.secho("No database configured.", fg="red", err=True)
        sys.exit(2)
    return settings.database.url


@main.command()
@click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
    envvar="BACKUP_DIR", help="Where backups go (default: DATA_DIR/backups, or BACKUP_DIR).",
)  # fmt: skip
@click.option(
    "--keep", type=int, default=14, show_default=True, envvar="BACKUP_KEEP",
    help="How many backups to keep (the newest).",
)  # fmt: skip
def backup(directory: Path | None, keep: int) -> None:
    """Back up the database (pg_dump, custom format) into a timestamped file; keep the newest N."""
    from coins.ops.backup import BackupError
    from coins.ops.backup import backup as run_backup

    with _database_settings() as settings:
        target = directory or settings.data_path / "backups"
        try:
            path, pruned = run_backup(_database_url_or_exit(settings), target, keep=keep)
        except BackupError as exc:
            click.secho(str(exc), fg="red", err=True)
            sys.exit(1)
    click.echo(f"Backed up to {path} ({path.stat().st_size} bytes).")
    for old in pruned:
        click.echo(f"Removed old backup {old.name} (keeping {keep}).")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
def restore(file: Path, yes: bool) -> None:
    """Restore FILE (from `coins backup`) into the configured database, replacing what is there."""
    from coins.ops.backup import BackupError, Target
    from coins.ops.backup import restore as run_restore

    with _database_settings() as settings:
        url = _database_url_or_exit(settings)
        where = Target.from_url(url).describe()
        if not yes:
            click.confirm(f"Replace every table in {where} with the contents of {file.name}?", abort=True)
        try:
            run_restore(url, file)
        except BackupError as exc:
            click.secho(str(exc), fg="red", err=True)
            sys.exit(1)
    click.echo(f"Restored {file.name} into {where}.")
