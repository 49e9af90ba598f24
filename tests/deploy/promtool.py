"""promtool, obtained the way TOOLCHAIN.md says: from PATH, else Debian's `prometheus` package unpacked
(`apt-get download` + `dpkg -x`) into .coins/tools/prometheus, cached for later runs. As root (CI) a
missing package list is fetched first with `apt-get update`. Anything else is a failure that says what
to do: these checks are part of the suite, never skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.servers import PROJECT_ROOT

CACHE = PROJECT_ROOT / ".coins" / "tools" / "prometheus"
CACHED_PROMTOOL = CACHE / "usr" / "bin" / "promtool"


def _works(path: Path | str) -> bool:
    try:
        result = subprocess.run([str(path), "--version"], capture_output=True, timeout=30, check=False)
    except OSError:
        return False
    return result.returncode == 0


def _download(folder: Path) -> tuple[Path | None, str]:
    result = subprocess.run(
        ["apt-get", "download", "prometheus"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    debs = sorted(folder.glob("prometheus_*.deb"))
    return (debs[-1] if result.returncode == 0 and debs else None), result.stderr.strip()


def find_promtool() -> str:
    on_path = shutil.which("promtool")
    if on_path and _works(on_path):
        return on_path
    if CACHED_PROMTOOL.is_file() and _works(CACHED_PROMTOOL):
        return str(CACHED_PROMTOOL)
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        pytest.fail("promtool not found and no apt-get/dpkg to fetch it: install Debian's `prometheus` package")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        os.chmod(folder, 0o755)  # apt's download sandbox user must be able to write here
        deb, error = _download(folder)
        if deb is None and os.geteuid() == 0:
            subprocess.run(["apt-get", "update"], capture_output=True, timeout=300, check=False)
            deb, error = _download(folder)
        if deb is None:
            pytest.fail(
                "promtool not found and `apt-get download prometheus` failed "
                f"({error or 'no package'}); run `apt-get update` (as root) or install the `prometheus` package"
            )
        CACHE.mkdir(parents=True, exist_ok=True)
        unpacked = subprocess.run(["dpkg", "-x", str(deb), str(CACHE)], capture_output=True, text=True, check=False)
        if unpacked.returncode != 0 or not _works(CACHED_PROMTOOL):
            pytest.fail(f"could not unpack promtool from {deb.name}: {unpacked.stderr}")
    return str(CACHED_PROMTOOL)
