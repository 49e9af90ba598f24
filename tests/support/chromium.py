"""Debian's Chromium for the browser tests, installed with apt-get the first time it is missing.

Playwright cannot download its own browsers here, so the tests drive `/usr/bin/chromium`. A fresh CI
machine (root, nothing installed) gets it from apt; a file lock keeps parallel test runs from starting
two apt-gets at once. When it cannot be installed the tests fail with the reason: a browser suite that
silently skips proves nothing.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
LOCK_FILE = Path(tempfile.gettempdir()) / "coins-chromium-install.lock"
LAUNCH_ARGS = [
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_TIMEOUT = 600  # seconds; usually about 30


class ChromiumUnavailable(RuntimeError):
    pass


def _usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChromiumUnavailable(f"`{' '.join(command)}` failed: {exc}") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-3000:]
        raise ChromiumUnavailable(f"`{' '.join(command)}` exited with {result.returncode}:\n{output}")


def ensure_chromium() -> str:
    """The path of Debian's Chromium, installing the `chromium` package first when it is missing."""
    if _usable(CHROMIUM):
        return str(CHROMIUM)
    hint = (
        f"{CHROMIUM} is missing and could not be installed. Install it once with "
        "`apt-get update && apt-get install -y chromium` (as root), then run the tests again."
    )
    if os.geteuid() != 0:
        raise ChromiumUnavailable(f"{hint} (the tests are not running as root, so they cannot do it)")
    if shutil.which("apt-get") is None:
        raise ChromiumUnavailable(f"{hint} (apt-get is not available on this machine)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Wait for dpkg's own lock too, in case something else is installing packages right now.
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "-o", "Acquire::Retries=3"]
    with LOCK_FILE.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be installing it: wait, then look again
        try:
            if not _usable(CHROMIUM):
                try:
                    _run([*apt, "update"], env)
                    _run([*apt, "install", "-y", "chromium"], env)
                except ChromiumUnavailable as exc:
                    raise ChromiumUnavailable(f"{hint}\n{exc}") from exc
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if not _usable(CHROMIUM):
        raise ChromiumUnavailable(f"{hint} (apt-get succeeded but {CHROMIUM} is still not there)")
    return str(CHROMIUM)
