"""The `coins` command: serve, worker, cluster, db, users, audit, maintenance, backup, restore, search.

Heavy imports stay inside the commands: `coins serve` must set PROMETHEUS_MULTIPROC_DIR before anything
imports prometheus-client, and `coins --help` should be instant.
"""

from __future__ import annotations

import click

from coins.cli import accounts, database, ops, search, serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="coins-for-change")
def main() -> None:
    """Coins for Change: gather ideas and prioritise them with virtual coins."""


for command in (
    serve.serve,
    serve.worker,
    serve.cluster,
    database.db,
    accounts.users,
    ops.audit,
    ops.maintenance,
    ops.backup,
    ops.restore,
    search.search,
):
    main.add_command(command)
