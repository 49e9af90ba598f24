"""The fresh-machine promise: `coins serve` with nothing configured and nothing running.

No DATABASE_URL, REDIS_URL or secrets: the command starts embedded PostgreSQL and Valkey from the pip
wheels, migrates, creates the first admin and prints its password, serves; Ctrl-C stops everything it
started; a second start finds the data (and the generated secrets) where the first left them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from coins.lib.embedded import free_port
from coins.settings import ENV_VARS
from tests.support.servers import PROJECT_ROOT, wait_for_http

pytestmark = pytest.mark.system

USER_PASSWORD = "Sturdy-Pass-42"
STOP_TIMEOUT = 20.0
RUNNING = re.compile(r"Coins for Change is running at (http://\S+)")
FIRST_RUN = re.compile(r"First run: log in at (\S+)/login as (\S+) with password (\S+)")


def fresh_machine_env(data_dir: Path) -> dict[str, str]:
    """This environment minus every setting the app reads (a developer's or CI's DATABASE_URL, secrets,
    ENVIRONMENT=test ...): what a new laptop has. Only the data folder is chosen, to keep runs apart."""
    env = {name: value for name, value in os.environ.items() if name not in ENV_VARS}
    for name in ("CONFIG_DIR", "PROMETHEUS_MULTIPROC_DIR", "TEST_DATABASE_URL", "TEST_REDIS_URL"):
        env.pop(name, None)
    env["DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Under the project, as `.coins/` is: as root the embedded PostgreSQL runs as an unprivileged user
    # that must be able to walk down to its data folder (a folder under /tmp may not allow that).
    base = PROJECT_ROOT / ".coins"
    base.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="serve-test-", dir=base))
    try:
        yield folder
    finally:
        # A failed assertion must not leave servers running on the machine.
        for process in processes_using(folder):
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)


def processes_using(folder: Path) -> list[psutil.Process]:
    """Processes started for this data folder: PostgreSQL names it on its command line; Valkey rewrites
    its process title, but its working directory is its data folder."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(process.info["cmdline"] or [])
        cwd = process.info["cwd"] or ""
        if str(folder) in cmdline or cwd.startswith(str(folder)):
            found.append(process)
    return found


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def coins(*args: str, env: dict[str, str], timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coins", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Serve:
    """`coins serve --port P` in its own process group, as a terminal runs it (Ctrl-C reaches the group)."""

    env: dict[str, str]
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self, timeout: float = 90.0) -> str:
        """Start and return the URL it announces, once /health answers."""
        self.log_path = self.data_dir / f"serve-{self.port}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "coins", "serve", "--port", str(self.port)],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while (match := RUNNING.search(self.output())) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"coins serve did not announce its URL:\n{self.output()}")
            time.sleep(0.1)
        url = match.group(1)
        wait_for_http(url + "/health", timeout=max(deadline - time.monotonic(), 1.0), process=self.process)
        return url

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def server_pids(self) -> dict[str, int]:
        """The embedded servers' pids, from the files they keep while running."""
        postmaster = self.data_dir / "postgres" / "pgdata" / "postmaster.pid"
        valkey = self.data_dir / "valkey" / "valkey.pid"
        return {
            "postgres": int(postmaster.read_text().splitlines()[0]),
            "valkey": int(valkey.read_text().strip()),
        }

    def ctrl_c(self) -> tuple[int, float]:
        """SIGINT to the whole process group, as the terminal sends it; (exit code, seconds to exit)."""
        assert self.process is not None
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            raise AssertionError(f"coins serve ignored Ctrl-C:\n{self.output()}") from None
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def get_token(url: str, email: str, password: str) -> str:
    response = httpx.post(url + "/api/auth/token", json={"email": email, "password": password}, timeout=15)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def me(url: str, token: str) -> dict[str, object]:
    response = httpx.get(url + "/api/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=15)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def stop_and_check_everything_is_gone(serve: Serve, pids: dict[str, int]) -> None:
    code, seconds = serve.ctrl_c()
    output = serve.output()
    assert code == 0, output
    assert seconds < STOP_TIMEOUT, f"took {seconds:.1f} s to stop"
    assert "Embedded servers stopped." in output
    assert not [name for name, pid in pids.items() if alive(pid)], (pids, output)
    assert processes_using(serve.data_dir) == []


def test_serve_on_a_fresh_machine(data_dir: Path) -> None:
    env = fresh_machine_env(data_dir)
    member_email = "member@example.org"

    # First start: everything from nothing.
    first = Serve(env, data_dir)
    try:
        url = first.start()
        assert url == f"http://127.0.0.1:{first.port}"
        found = FIRST_RUN.search(first.output())
        assert found, first.output()
        assert found.group(1) == url
        admin_email, admin_password = found.group(2), found.group(3)

        assert httpx.get(url + "/health", timeout=5).status_code == 200
        ready = httpx.get(url + "/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "valkey": "ok"}

        admin_token = get_token(url, admin_email, admin_password)
        assert me(url, admin_token)["is_admin"] is True
        registered = httpx.post(
            url + "/api/auth/register",
            json={"email": member_email, "password": USER_PASSWORD, "full_name": "Mo Member"},
            timeout=15,
        )
        assert registered.status_code == 201, registered.text

        pids = first.server_pids()
        assert all(alive(pid) for pid in pids.values()), pids
        # The scan used after stopping does see these servers while they run (else it would prove nothing).
        assert set(pids.values()) <= {process.pid for process in processes_using(data_dir)}
        stop_and_check_everything_is_gone(first, pids)
    finally:
        first.kill()

    # The other commands start the embedded servers for themselves, and stop them again.
    created = coins("users", "create-admin", "someone@example.org", "--password", "Str0ng-Pass", env=env)
    assert created.returncode == 0, created.stdout + created.stderr
    assert "Created admin someone@example.org" in created.stdout
    assert processes_using(data_dir) == []
    upgraded = coins("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "Database upgraded to head" in upgraded.stdout
    assert processes_using(data_dir) == []

    # Second start on the same data: no new admin, nothing lost.
    second = Serve(env, data_dir)
    try:
        url = second.start()
        output = second.output()
        assert "First run" not in output
        assert "password" not in output.lower()
        member = me(url, get_token(url, member_email, USER_PASSWORD))
        assert member["email"] == member_email
        assert me(url, get_token(url, admin_email, admin_password))["is_admin"] is True
        assert me(url, get_token(url, "someone@example.org", "Str0ng-Pass"))["is_admin"] is True
        # Tokens from before the restart still work: the generated JWT secret was kept in DATA_DIR.
        assert me(url, admin_token)["email"] == admin_email
        stop_and_check_everything_is_gone(second, second.server_pids())
    finally:
        second.kill()
