"""Settings: code defaults, then `config/base.yaml`, then `config/<environment>.yaml`, then the environment.

Everything is validated at start-up and every bad value is reported at once, so an operator fixes a
deployment in one round.  Settings are built by `load_settings()` and handed to `create_app()`; nothing
reads configuration at import time, so tests build as many differently configured apps as they like.

The package is split by concern (the shape, the environment variables, the cross-field checks, the
loading); this module is its public face, so callers import from `coins.settings` only.
"""

from coins.settings.environment import ENV_VARS, EnvVar
from coins.settings.loading import load_settings
from coins.settings.model import (
    ENVIRONMENTS,
    AppSettings,
    ConfigError,
    DatabaseSettings,
    Environment,
    LoggingSettings,
    OpenSearchSettings,
    RedisSettings,
    SecuritySettings,
    Settings,
    SmtpSettings,
    TelemetrySettings,
    WorkerSettings,
    asyncpg_url,
    project_root,
    redis_scheme,
)

__all__ = [
    "ENVIRONMENTS",
    "ENV_VARS",
    "AppSettings",
    "ConfigError",
    "DatabaseSettings",
    "EnvVar",
    "Environment",
    "LoggingSettings",
    "OpenSearchSettings",
    "RedisSettings",
    "SecuritySettings",
    "Settings",
    "SmtpSettings",
    "TelemetrySettings",
    "WorkerSettings",
    "asyncpg_url",
    "load_settings",
    "project_root",
    "redis_scheme",
]
