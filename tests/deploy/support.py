"""Shared by the deploy tests: the project's deploy files, and a check that a command line is one the
`coins` CLI accepts (options and all), so a manifest cannot drift from the code it runs."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from coins.cli import main as coins_cli
from tests.support.servers import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
BASE = KUBERNETES / "base"
OVERLAYS = {name: KUBERNETES / "overlays" / name for name in ("staging", "production")}

WEB_COMMAND = ["coins", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker", "--no-migrate"]
WORKER_COMMAND = ["coins", "worker"]
MIGRATE_COMMAND = ["coins", "db", "upgrade"]
APP_PORT = 8000

# Every variable a deployment must set (README "Configuration"); the secret ones never as literals.
SECRET_ENV = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "JWT_SECRET_KEY",
    "SMTP_PASSWORD",
    "OPENSEARCH_PASSWORD",
}
REQUIRED_ENV = {
    "ENVIRONMENT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "CORS_ORIGINS",
    "TRUSTED_PROXY_COUNT",
    "WORKER_IN_PROCESS",
    "WEB_CONCURRENCY",
    "DATABASE_POOL_SIZE",
    "DATABASE_MAX_OVERFLOW",
    "BASE_URL",
    "SECURE_COOKIES",
    "OPENSEARCH_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    *SECRET_ENV,
}


def assert_cli_accepts(argv: list[str] | str) -> click.Command:
    """Parse `argv` (starting with `coins`) with the real click command tree; raise if it would refuse it."""
    args = shlex.split(argv) if isinstance(argv, str) else list(argv)
    assert args[0] == "coins", args
    command: click.Command = coins_cli
    rest = args[1:]
    while isinstance(command, click.Group):
        assert rest, f"{args}: names a group, not a command"
        name, rest = rest[0], rest[1:]
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"{args}: `coins` has no command {name!r}"
        command = sub
    try:
        command.make_context(command.name or "", list(rest))
    except click.UsageError as exc:
        raise AssertionError(f"{args}: the coins CLI refuses it: {exc.format_message()}") from exc
    return command


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")
