"""What the commands share: settings (or a clear message), the embedded servers, migrations, the first admin."""

from __future__ import annotations

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


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(overrides=overrides or None)
    except ConfigError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(2)


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
        yield settings_or_exit()
    finally:
        for server in reversed(started):
            server.stop()
        if started and echo:
            click.echo("Embedded servers stopped.")


def run_migrations(settings: Settings, revision: str = "head") -> None:
    from advanced_alchemy.alembic.commands import AlembicCommands

    from coins.wiring import database_config

    AlembicCommands(sqlalchemy_config=database_config(settings)).upgrade(revision=revision)


async def first_admin(settings: Settings) -> tuple[str, str] | None:
    """On a fresh database make an admin with a random password; return (email, password) if made."""
    from coins.accounts.services.administration import UserAdministration
    from coins.lib.db import standalone_session
    from coins.wiring import standalone

    async with standalone(settings) as parts, standalone_session(parts.db) as session:
        accounts = UserAdministration(session, parts.events)
        if await accounts.any_admin():
            return None
        password = "Coins-" + secrets.token_urlsafe(9) + "7a"
        await accounts.ensure_admin(email=FIRST_ADMIN_EMAIL, password=password)
        return FIRST_ADMIN_EMAIL, password


def ensure_front_end() -> None:
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


def fresh_metrics_dir(settings: Settings, name: str) -> Path:
    """An empty folder for prometheus-client's multiprocess files: inside PROMETHEUS_MULTIPROC_DIR when
    that is set (the containers mount an emptyDir there), else inside DATA_DIR. A restarted container
    must not add its predecessor's counts to its own, hence a new folder per process."""
    base = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.data_path)
    folder = base / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def database_settings() -> Iterator[Settings]:
    settings = settings_or_exit()
    if settings.database.url:
        yield settings
        return
    with embedded_services(settings, echo=False) as embedded:
        yield embedded


def database_url_or_exit(settings: Settings) -> str:
    if not settings.database.url:
        click.secho("No database configured.", fg="red", err=True)
        sys.exit(2)
    return settings.database.url
