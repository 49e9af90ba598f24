"""Environment variables: name -> (section, field, parser).  The deployment guide's names come first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _parse_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None


def _parse_float(raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ValueError("expected a number") from None


def _parse_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _parse_str(raw: str) -> str:
    return raw.strip()


@dataclass(frozen=True)
class EnvVar:
    section: str
    field: str
    parse: Callable[[str], Any]


ENV_VARS: dict[str, EnvVar] = {
    "ENVIRONMENT": EnvVar("app", "environment", _parse_str),
    "DEBUG": EnvVar("app", "debug", _parse_bool),
    "HOST": EnvVar("app", "host", _parse_str),
    "PORT": EnvVar("app", "port", _parse_int),
    "BASE_URL": EnvVar("app", "base_url", _parse_str),
    "SECRET_KEY": EnvVar("app", "secret_key", _parse_str),
    "DATA_DIR": EnvVar("app", "data_dir", _parse_str),
    "WEB_CONCURRENCY": EnvVar("app", "workers", _parse_int),
    "MEDIA_DIR": EnvVar("app", "media_dir", _parse_str),
    "DATABASE_URL": EnvVar("database", "url", _parse_str),
    "DATABASE_POOL_SIZE": EnvVar("database", "pool_size", _parse_int),
    "DATABASE_MAX_OVERFLOW": EnvVar("database", "max_overflow", _parse_int),
    "DATABASE_POOL_TIMEOUT": EnvVar("database", "pool_timeout", _parse_int),
    "DATABASE_COIN_POOL_SIZE": EnvVar("database", "coin_pool_size", _parse_int),
    "VALKEY_URL": EnvVar("redis", "url", _parse_str),
    "REDIS_URL": EnvVar("redis", "url", _parse_str),
    "REDIS_MAX_CONNECTIONS": EnvVar("redis", "max_connections", _parse_int),
    "REDIS_SOCKET_TIMEOUT": EnvVar("redis", "socket_timeout", _parse_float),
    "OPENSEARCH_URL": EnvVar("opensearch", "url", _parse_str),
    "OPENSEARCH_USERNAME": EnvVar("opensearch", "username", _parse_str),
    "OPENSEARCH_PASSWORD": EnvVar("opensearch", "password", _parse_str),
    "OPENSEARCH_TIMEOUT": EnvVar("opensearch", "timeout", _parse_int),
    "OPENSEARCH_MAX_RETRIES": EnvVar("opensearch", "max_retries", _parse_int),
    "JWT_SECRET_KEY": EnvVar("security", "jwt_secret_key", _parse_str),
    "JWT_ALGORITHM": EnvVar("security", "jwt_algorithm", _parse_str),
    "JWT_EXPIRATION_SECONDS": EnvVar("security", "jwt_expiration", _parse_int),
    "SESSION_MAX_AGE_SECONDS": EnvVar("security", "session_max_age", _parse_int),
    "RATE_LIMIT_PER_MINUTE": EnvVar("security", "rate_limit_per_minute", _parse_int),
    "AUTH_RATE_LIMIT_PER_MINUTE": EnvVar("security", "auth_rate_limit_per_minute", _parse_int),
    "PLATFORM_RATE_LIMIT_PER_MINUTE": EnvVar("security", "platform_rate_limit_per_minute", _parse_int),
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": EnvVar("security", "webhook_allow_private_networks", _parse_bool),
    "CORS_ORIGINS": EnvVar("security", "cors_origins", _parse_list),
    "TRUSTED_PROXY_COUNT": EnvVar("security", "trusted_proxy_count", _parse_int),
    "SECURE_COOKIES": EnvVar("security", "secure_cookies", _parse_bool),
    "SMTP_HOST": EnvVar("smtp", "host", _parse_str),
    "SMTP_PORT": EnvVar("smtp", "port", _parse_int),
    "SMTP_USERNAME": EnvVar("smtp", "username", _parse_str),
    "SMTP_PASSWORD": EnvVar("smtp", "password", _parse_str),
    "SMTP_FROM": EnvVar("smtp", "from_address", _parse_str),
    "SMTP_STARTTLS": EnvVar("smtp", "starttls", _parse_bool),
    "SMTP_USE_TLS": EnvVar("smtp", "use_tls", _parse_bool),
    "LOG_LEVEL": EnvVar("logging", "level", lambda raw: raw.strip().upper()),
    "LOG_FORMAT": EnvVar("logging", "format", _parse_str),
    "WORKER_CONCURRENCY": EnvVar("worker", "concurrency", _parse_int),
    "WORKER_IN_PROCESS": EnvVar("worker", "in_process", _parse_bool),
    "OTEL_EXPORTER_OTLP_ENDPOINT": EnvVar("telemetry", "otlp_endpoint", _parse_str),
    "OTEL_SERVICE_NAME": EnvVar("telemetry", "service_name", _parse_str),
}


def env_layer(environ: Mapping[str, str], problems: list[str]) -> dict[str, dict[str, Any]]:
    layer: dict[str, dict[str, Any]] = {}
    for name, var in ENV_VARS.items():
        if name not in environ:
            continue
        # REDIS_URL is the guide's name; VALKEY_URL wins only when REDIS_URL is absent.
        if name == "VALKEY_URL" and "REDIS_URL" in environ:
            continue
        try:
            layer.setdefault(var.section, {})[var.field] = var.parse(environ[name])
        except ValueError as exc:
            problems.append(f"{name}={environ[name]!r}: {exc}")
    return layer
