"""Accounts from the command line: the first admin, or an admin's forgotten password."""

from __future__ import annotations

import asyncio
import sys

import click

from coins.cli.common import database_settings
from coins.settings import Settings


@click.group()
def users() -> None:
    """Manage accounts."""


@users.command("create-admin")
@click.argument("email")
@click.option("--password", default=None, help="The password (prompted for when omitted).")
@click.option("--name", "full_name", default="Administrator", show_default=True)
def create_admin(email: str, password: str | None, full_name: str) -> None:
    """Create an admin account, or make an existing account admin with this password."""
    from coins.accounts.services.administration import UserAdministration
    from coins.lib.db import standalone_session
    from coins.lib.errors import AppError
    from coins.wiring import standalone

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def run(settings: Settings) -> tuple[str, bool]:
        async with standalone(settings) as parts, standalone_session(parts.db) as session:
            user, created = await UserAdministration(session, parts.events).ensure_admin(
                email=email, password=password or "", full_name=full_name
            )
            return user.email, created

    with database_settings() as settings:
        try:
            address, created = asyncio.run(run(settings))
        except AppError as exc:
            click.secho(exc.message, fg="red", err=True)
            sys.exit(1)
    click.echo(f"{'Created' if created else 'Updated'} admin {address}.")
