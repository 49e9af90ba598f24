"""Operations: the coin audit, maintenance mode, backups and restores."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from coins.cli.common import database_settings, database_url_or_exit, settings_or_exit
from coins.settings import Settings


@click.command()
def audit() -> None:
    """Re-derive every balance and idea total from the ledger; exit 1 if anything differs."""
    from coins.coins.audit import run_audit
    from coins.wiring import database_config

    async def run(settings: Settings) -> bool:
        engine = database_config(settings).get_engine()
        try:
            report = await run_audit(engine)
        finally:
            await engine.dispose()
        click.echo(report.summary())
        return report.clean

    with database_settings() as settings:
        clean = asyncio.run(run(settings))
    sys.exit(0 if clean else 1)


# Maintenance --------------------------------------------------------------------------------------------


@click.command()
@click.argument("state", type=click.Choice(["on", "off", "status"]))
@click.option("--message", default="", help="Shown on the maintenance page.")
def maintenance(state: str, message: str) -> None:
    """Switch maintenance mode for every replica (or show it)."""
    from coins.lib.db import standalone_session
    from coins.lib.maintenance import get_maintenance, set_maintenance, switch_maintenance
    from coins.wiring import database_config, valkey_client

    settings = settings_or_exit()
    if not settings.redis.url:
        click.secho("REDIS_URL is not set: maintenance mode lives in the shared Valkey.", fg="red", err=True)
        sys.exit(2)

    async def run() -> str:
        client = valkey_client(settings)
        try:
            if state == "status":
                current = await get_maintenance(client)
            elif settings.database.url:  # the switch goes to the audit trail too
                config = database_config(settings)
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


@click.command()
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

    with database_settings() as settings:
        target = directory or settings.data_path / "backups"
        try:
            path, pruned = run_backup(database_url_or_exit(settings), target, keep=keep)
        except BackupError as exc:
            click.secho(str(exc), fg="red", err=True)
            sys.exit(1)
    click.echo(f"Backed up to {path} ({path.stat().st_size} bytes).")
    for old in pruned:
        click.echo(f"Removed old backup {old.name} (keeping {keep}).")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
def restore(file: Path, yes: bool) -> None:
    """Restore FILE (from `coins backup`) into the configured database, replacing what is there."""
    from coins.ops.backup import BackupError, Target
    from coins.ops.backup import restore as run_restore

    with database_settings() as settings:
        url = database_url_or_exit(settings)
        where = Target.from_url(url).describe()
        if not yes:
            click.confirm(f"Replace every table in {where} with the contents of {file.name}?", abort=True)
        try:
            run_restore(url, file)
        except BackupError as exc:
            click.secho(str(exc), fg="red", err=True)
            sys.exit(1)
    click.echo(f"Restored {file.name} into {where}.")
