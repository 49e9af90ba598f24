"""Running the product: the web app, the worker on its own, and the production topology on one machine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys

import click

from coins.cli.common import (
    embedded_services,
    ensure_front_end,
    first_admin,
    fresh_metrics_dir,
    run_migrations,
    settings_or_exit,
)
from coins.settings import Settings

WORKER_METRICS_PORT = 9091


@click.command()
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
    settings = settings_or_exit()
    metrics_dir = fresh_metrics_dir(settings, f"metrics-{os.getpid()}")
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
    ensure_front_end()

    click.echo("Starting Coins for Change...")
    try:
        with embedded_services(settings_or_exit()) as settings:
            local = settings.app.environment in {"development", "test"}
            if migrate if migrate is not None else local:
                run_migrations(settings)
            # A first admin with a printed password is a laptop convenience, never a production log line.
            made = asyncio.run(first_admin(settings)) if local else None
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


@click.command()
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
    settings = settings_or_exit()
    if not settings.database.url or not settings.redis.url:
        click.secho(
            "coins worker needs DATABASE_URL and REDIS_URL (start `coins serve` for the embedded setup).",
            fg="red",
            err=True,
        )
        sys.exit(2)
    metrics_dir = fresh_metrics_dir(settings, f"metrics-worker-{os.getpid()}")
    # Before anything imports prometheus-client (coins.worker does): job metrics go to files there.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    from coins.lib.logging import configure_logging
    from coins.wiring import job_queue
    from coins.worker import make_worker

    configure_logging(settings.logging.level, settings.logging.format)

    async def run() -> None:
        queue = job_queue(settings)
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


@click.command()
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
    ensure_front_end()
    click.echo(f"Starting Coins for Change: {replicas} replicas, a worker and Envoy...")
    with embedded_services(settings_or_exit()) as settings:
        local = settings.app.environment in {"development", "test"}
        if local:
            run_migrations(settings)
        made = asyncio.run(first_admin(settings)) if local else None
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
