"""The Dockerfile, read as Docker would (no engine on these machines): a multi-stage build whose runtime
stage runs as a non-root user, exposes 8000, has a health check, and whose documented commands (web,
worker, migrate, backup) are ones the `coins` CLI accepts and the same ones compose and Kubernetes run."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

import pytest

from tests.deploy.support import (
    APP_PORT,
    MIGRATE_COMMAND,
    WEB_COMMAND,
    WORKER_COMMAND,
    assert_cli_accepts,
    read,
)
from tests.support.servers import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "Dockerfile"


@dataclass
class Instruction:
    keyword: str
    argument: str
    stage: str


def parse(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and comments dropped, each tagged with its stage."""
    instructions: list[Instruction] = []
    stage, pending = "", ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", argument.strip(), flags=re.IGNORECASE)
            assert match, line
            stage = match.group(2) or match.group(1)
        instructions.append(Instruction(keyword, argument.strip(), stage))
    return instructions


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(read(DOCKERFILE))


def documented_commands() -> dict[str, list[str]]:
    """The `#   name: command` lines at the top of the Dockerfile."""
    found = {}
    for line in read(DOCKERFILE).splitlines():
        if not line.startswith("#"):
            break
        match = re.match(r"#\s+(\w+):\s+(coins .+)$", line)
        if match:
            found[match.group(1)] = shlex.split(match.group(2))
    return found


def exec_form(argument: str) -> list[str]:
    value = json.loads(argument)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), argument
    return value


def test_multi_stage_with_a_lean_runtime(instructions: list[Instruction]) -> None:
    stages = [i.stage for i in instructions if i.keyword == "FROM"]
    assert stages == ["assets", "build", "runtime"]
    bases = {i.stage: i.argument.split()[0] for i in instructions if i.keyword == "FROM"}
    assert bases["runtime"].startswith("python:3.11-slim")
    # Only built artefacts reach the runtime stage: no Node.js, no compilers, no npm cache.
    copies_from = {
        re.search(r"--from=(\S+)", i.argument).group(1)  # type: ignore[union-attr]
        for i in instructions
        if i.keyword == "COPY" and i.stage == "runtime" and "--from=" in i.argument
    }
    assert copies_from == {"assets", "build"}
    runs = [i.argument for i in instructions if i.keyword == "RUN"]
    assert any(r.startswith("npm ci") and "--omit=dev" in r for r in runs), runs
    assert not any("npm" in i.argument for i in instructions if i.stage == "runtime" and i.keyword == "RUN")


def test_runs_as_a_non_root_user(instructions: list[Instruction]) -> None:
    users = [i.argument for i in instructions if i.keyword == "USER"]
    assert users, "no USER: the container would run as root"
    final = users[-1]
    assert final not in {"root", "0", "0:0"}
    # The uid the Kubernetes manifests ask for (runAsUser: 1000) and the one the image creates.
    assert final.split(":")[0] == "1000"
    assert any("useradd" in i.argument and "--uid 1000" in i.argument for i in instructions if i.keyword == "RUN")
    # USER comes after everything that needs root (installing packages).
    last_user = max(n for n, i in enumerate(instructions) if i.keyword == "USER")
    assert all(i.keyword != "RUN" for i in instructions[last_user:])


def test_port_health_check_and_environment(instructions: list[Instruction]) -> None:
    exposed = {int(port.split("/")[0]) for i in instructions if i.keyword == "EXPOSE" for port in i.argument.split()}
    assert APP_PORT in exposed
    [health] = [i.argument for i in instructions if i.keyword == "HEALTHCHECK"]
    assert f"127.0.0.1:{APP_PORT}/health" in health
    assert "--interval=" in health and "--timeout=" in health
    env = " ".join(i.argument for i in instructions if i.keyword == "ENV" and i.stage == "runtime")
    for setting in (
        "ENVIRONMENT=production",
        f"PORT={APP_PORT}",
        "PROMETHEUS_MULTIPROC_DIR=",
        "DATA_DIR=/tmp/",
    ):
        assert setting in env, setting


def test_documented_commands_exist_in_the_cli(instructions: list[Instruction]) -> None:
    commands = documented_commands()
    assert commands["web"] == WEB_COMMAND
    assert commands["worker"] == WORKER_COMMAND
    assert commands["migrate"] == MIGRATE_COMMAND
    assert set(commands) >= {"web", "worker", "migrate", "backup"}
    for argv in commands.values():
        assert_cli_accepts(argv)
    # The default command is the web replica's.
    [cmd] = [i.argument for i in instructions if i.keyword == "CMD"]
    assert exec_form(cmd) == WEB_COMMAND


def test_the_cli_check_refuses_what_the_cli_refuses() -> None:
    with pytest.raises(AssertionError, match="no command"):
        assert_cli_accepts(["coins", "serv"])
    with pytest.raises(AssertionError, match="refuses"):
        assert_cli_accepts(["coins", "serve", "--no-such-option"])


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = set(read(PROJECT_ROOT / ".dockerignore").split())
    assert {".venv", ".coins", "node_modules", ".git", "test-artifacts"} <= ignored
