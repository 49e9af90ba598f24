"""Developer commands. `nox -s serve` runs the app, `nox -s tests` runs the whole suite (what CI runs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

ROOT = Path(__file__).parent
PYTHON = "3.11"


def front_end(session: nox.Session) -> None:
    """htmx, its SSE extension and Pico come from the npm registry (package-lock.json), never from git."""
    installed = ROOT / "node_modules" / ".package-lock.json"  # npm's record of what node_modules holds
    lock = ROOT / "package-lock.json"
    vendored = ROOT / "static" / "vendor" / "htmx.min.js"
    if vendored.is_file() and installed.is_file() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    if shutil.which("npm") is None:
        session.error("npm not found: install Node.js 20 (see README, Prerequisites).")
    session.run("npm", "ci", "--no-audit", "--no-fund", external=True)


@nox.session(python=PYTHON)
def serve(session: nox.Session) -> None:
    """Run the app: embedded PostgreSQL and Valkey unless DATABASE_URL / REDIS_URL are set."""
    session.install("-e", ".")
    front_end(session)
    session.run("coins", "serve", *session.posargs)


LINTED = ("src", "tests", "migrations", "bench", "examples", "noxfile.py")


def static_checks(session: nox.Session) -> None:
    """Ruff, the formatter, mypy strict and the import contract (pyproject.toml, [tool.importlinter])."""
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)
    session.run("mypy")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Lint, type-check, then every test: unit, integration, browser (Chromium), system (replicas, Envoy)."""
    session.install("-e", ".[test,lint]")
    front_end(session)
    static_checks(session)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def quick(session: nox.Session) -> None:
    """The inner loop: static checks, then unit and integration tests only (no Chromium, no extra processes)."""
    session.install("-e", ".[test,lint]")
    front_end(session)
    static_checks(session)
    session.run("pytest", "-m", "not system and not browser", *session.posargs)


@nox.session(python=PYTHON)
def browser(session: nox.Session) -> None:
    """Only the Playwright tests (installs Debian's Chromium when it is missing)."""
    session.install("-e", ".[test]")
    front_end(session)
    session.run("pytest", "-m", "browser", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("-e", ".[lint]")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)
    session.run("lint-imports")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[lint]")
    session.run("mypy")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Coin allocations through the whole stack vs pgbench and a plain endpoint (slow; not part of `tests`)."""
    session.install("-e", ".[test]")
    session.run("python", "bench/coin_allocations.py", *session.posargs)
