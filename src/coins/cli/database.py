"""Database migrations (Alembic)."""

from __future__ import annotations

import click

from coins.cli.common import database_settings, run_migrations


@click.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    with database_settings() as settings:
        run_migrations(settings, revision)
    click.echo(f"Database upgraded to {revision}.")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (e.g. -1, or base)."""
    from advanced_alchemy.alembic.commands import AlembicCommands

    from coins.wiring import database_config

    with database_settings() as settings:
        AlembicCommands(sqlalchemy_config=database_config(settings)).downgrade(revision=revision)
    click.echo(f"Database downgraded to {revision}.")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
@click.option("--autogenerate/--empty", default=True, help="Compare models with the database.")
def db_revision(message: str, autogenerate: bool) -> None:
    """Create a new migration file under migrations/versions/."""
    from advanced_alchemy.alembic.commands import AlembicCommands

    from coins.wiring import database_config

    with database_settings() as settings:
        AlembicCommands(sqlalchemy_config=database_config(settings)).revision(
            message=message, autogenerate=autogenerate
        )
