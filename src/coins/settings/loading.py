"""Loading: code defaults, then `config/base.yaml`, then `config/<environment>.yaml`, then the environment."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from coins.settings.environment import env_layer as _env_layer
from coins.settings.model import ENVIRONMENTS, ConfigError, Settings, project_root
from coins.settings.validation import semantic_problems as _semantic_problems


def _deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path, problems: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        problems.append(f"{path}: not valid YAML ({exc})")
        return {}
    if not isinstance(loaded, dict):
        problems.append(f"{path}: expected a mapping of sections at the top level")
        return {}
    return loaded


def _development_secret(data_dir: Path, name: str) -> str:
    """A secret kept in the data folder: stable across restarts, shared by every local replica."""
    path = data_dir / name
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    config_dir: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build and validate the settings; raise `ConfigError` listing every problem."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    config_dir = config_dir or Path(environ.get("CONFIG_DIR", "") or project_root() / "config")

    env_layer = _env_layer(environ, problems)
    environment = str(env_layer.get("app", {}).get("environment", "development"))
    if environment not in ENVIRONMENTS:
        problems.append(f"ENVIRONMENT={environment!r}: expected one of {', '.join(ENVIRONMENTS)}")
        environment = "development"

    merged: dict[str, Any] = {}
    merged = _deep_merge(merged, _read_yaml(config_dir / "base.yaml", problems))
    merged = _deep_merge(merged, _read_yaml(config_dir / f"{environment}.yaml", problems))
    merged = _deep_merge(merged, env_layer)
    merged = _deep_merge(merged, overrides or {})

    settings = Settings()
    try:
        settings = msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as exc:
        problems.append(f"configuration value: {exc}")
    else:
        problems.extend(_semantic_problems(settings))
    if problems:
        raise ConfigError(problems)

    if settings.app.environment in {"development", "test"}:
        settings = _fill_development_secrets(settings)
    return settings


def _fill_development_secrets(settings: Settings) -> Settings:
    app, security = settings.app, settings.security
    if not app.secret_key:
        app = msgspec.structs.replace(app, secret_key=_development_secret(settings.data_path, "secret_key"))
    if not security.jwt_secret_key:
        security = msgspec.structs.replace(
            security, jwt_secret_key=_development_secret(settings.data_path, "jwt_secret_key")
        )
    return msgspec.structs.replace(settings, app=app, security=security)
