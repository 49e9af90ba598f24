"""Settings: code defaults, then `config/base.yaml`, then `config/<environment>.yaml`, then the environment.

Everything is validated at start-up and every bad value is reported at once, so an operator fixes a
deployment in one round.  Settings are built by `load_settings()` and handed to `create_app()`; nothing
reads configuration at import time, so tests build as many differently configured apps as they like.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

import msgspec
import yaml

Environment = Literal["development", "test", "staging", "production"]
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)

# Values that appear in documentation and examples; a real deployment must never run with one of them.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "",
        "secret",
        "changeme",
        "change-me",
        "your-secret-key",
        "your-jwt-secret",
        "development-secret-key",
        "test-secret-key",
    }
)
MIN_SECRET_LENGTH = 32


class AppSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str = "coins-for-change"
    version: str = "0.1.0"
    environment: Environment = "development"
    debug: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    # Public address used in links inside emails; defaults to http://host:port.
    base_url: str = ""
    secret_key: str = ""
    data_dir: str = ".coins"
    workers: int = 1
    templates_dir: str = ""
    static_dir: str = ""
    # Uploaded images; replicas must share it (a volume). Defaults to <data_dir>/media.
    media_dir: str = ""


class DatabaseSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str = ""
    pool_size: int = 10
    max_overflow: int = 20
    pool_timeout: int = 30
    # The coin operations' own asyncpg pool (one statement per operation, no ORM), per process.
    coin_pool_size: int = 10
    echo: bool = False


class RedisSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str = ""
    max_connections: int = 100
    socket_timeout: float = 5.0


class OpenSearchSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str = ""
    username: str = ""
    password: str = ""
    timeout: int = 30
    max_retries: int = 3
    index_prefix: str = "coins"


class SecuritySettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    jwt_secret_key: str = ""
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_expiration: int = 3600
    session_max_age: int = 14 * 24 * 3600
    rate_limit_per_minute: int = 100
    auth_rate_limit_per_minute: int = 10
    # Requests made with a platform's API key, counted per platform (0 turns it off).
    platform_rate_limit_per_minute: int = 600
    # Webhooks may be delivered to loopback, private, link-local and reserved addresses (local testing only).
    webhook_allow_private_networks: bool = False
    cors_origins: list[str] = msgspec.field(default_factory=list)
    # How many reverse proxies (Envoy, an ingress) sit in front of us and append to X-Forwarded-For.
    trusted_proxy_count: int = 0
    secure_cookies: bool = False
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    password_reset_ttl: int = 3600


class SmtpSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = ""
    port: int = 587
    username: str = ""
    password: str = ""
    from_address: str = "Coins for Change <noreply@coins.local>"
    starttls: bool = False
    use_tls: bool = False
    timeout: float = 30.0


class LoggingSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["text", "json"] = "text"


class WorkerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    concurrency: int = 10
    # Run the SAQ worker inside the web process (the embedded default and tests); production runs
    # `coins worker` as its own deployment.
    in_process: bool = False
    queue_name: str = "coins"


class TelemetrySettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    otlp_endpoint: str = ""
    service_name: str = "coins-for-change"


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    app: AppSettings = msgspec.field(default_factory=AppSettings)
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    opensearch: OpenSearchSettings = msgspec.field(default_factory=OpenSearchSettings)
    security: SecuritySettings = msgspec.field(default_factory=SecuritySettings)
    smtp: SmtpSettings = msgspec.field(default_factory=SmtpSettings)
    logging: LoggingSettings = msgspec.field(default_factory=LoggingSettings)
    worker: WorkerSettings = msgspec.field(default_factory=WorkerSettings)
    telemetry: TelemetrySettings = msgspec.field(default_factory=TelemetrySettings)

    @property
    def is_production(self) -> bool:
        return self.app.environment == "production"

    @property
    def public_url(self) -> str:
        if self.app.base_url:
            return self.app.base_url.rstrip("/")
        return f"http://{self.app.host}:{self.app.port}"

    @property
    def data_path(self) -> Path:
        return Path(self.app.data_dir).resolve()

    @property
    def templates_path(self) -> Path:
        return Path(self.app.templates_dir) if self.app.templates_dir else project_root() / "templates"

    @property
    def static_path(self) -> Path:
        return Path(self.app.static_dir) if self.app.static_dir else project_root() / "static"

    @property
    def media_path(self) -> Path:
        return Path(self.app.media_dir).resolve() if self.app.media_dir else self.data_path / "media"

    @property
    def saq_url(self) -> str:
        """SAQ only accepts redis:// URLs; Valkey speaks the same protocol."""
        return redis_scheme(self.redis.url)


class ConfigError(Exception):
    """Every problem found in the configuration, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def project_root() -> Path:
    """The checkout this package runs from (templates/, static/, config/ live there)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2], Path.cwd()):
        if (candidate / "templates").is_dir():
            return candidate
    return Path.cwd()


def redis_scheme(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"valkey": "redis", "valkeys": "rediss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def asyncpg_url(url: str) -> str:
    """Accept the usual PostgreSQL URL spellings and return the SQLAlchemy asyncpg one."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme in {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}:
        scheme = "postgresql+asyncpg"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


# ---------------------------------------------------------------------------------------------------------
# Environment variables: name -> (section, field, parser).  The guide's names come first.


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


def _env_layer(environ: Mapping[str, str], problems: list[str]) -> dict[str, dict[str, Any]]:
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


_URL_SCHEMES: dict[str, set[str]] = {
    "DATABASE_URL": {"postgres", "postgresql", "postgresql+asyncpg"},
    "REDIS_URL": {"redis", "rediss", "valkey", "valkeys"},
    "OPENSEARCH_URL": {"http", "https"},
    "BASE_URL": {"http", "https"},
}


def _range_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    if not 0 < settings.app.port < 65536:
        problems.append(f"PORT={settings.app.port}: must be between 1 and 65535")
    at_least_one = {
        "DATABASE_POOL_SIZE": settings.database.pool_size,
        "DATABASE_COIN_POOL_SIZE": settings.database.coin_pool_size,
        "WEB_CONCURRENCY": settings.app.workers,
        "WORKER_CONCURRENCY": settings.worker.concurrency,
        "JWT_EXPIRATION_SECONDS": settings.security.jwt_expiration,
    }
    problems.extend(f"{name}={value}: must be at least 1" for name, value in at_least_one.items() if value < 1)
    not_negative = {
        "DATABASE_MAX_OVERFLOW": settings.database.max_overflow,
        "RATE_LIMIT_PER_MINUTE": settings.security.rate_limit_per_minute,
        "AUTH_RATE_LIMIT_PER_MINUTE": settings.security.auth_rate_limit_per_minute,
        "PLATFORM_RATE_LIMIT_PER_MINUTE": settings.security.platform_rate_limit_per_minute,
        "TRUSTED_PROXY_COUNT": settings.security.trusted_proxy_count,
    }
    problems.extend(
        f"{name}={value}: must not be negative (0 turns it off)" for name, value in not_negative.items() if value < 0
    )
    return problems


def _url_problems(settings: Settings) -> list[str]:
    urls = {
        "DATABASE_URL": settings.database.url,
        "REDIS_URL": settings.redis.url,
        "OPENSEARCH_URL": settings.opensearch.url,
        "BASE_URL": settings.app.base_url,
    }
    problems = [
        f"{name}: expected a {' or '.join(sorted(s + '://' for s in _URL_SCHEMES[name]))} URL"
        for name, url in urls.items()
        if url and urlsplit(url).scheme not in _URL_SCHEMES[name]
    ]
    problems.extend(
        f"CORS_ORIGINS: {origin!r} is not an http(s) origin"
        for origin in settings.security.cors_origins
        if origin != "*" and urlsplit(origin).scheme not in {"http", "https"}
    )
    if settings.smtp.starttls and settings.smtp.use_tls:
        problems.append("SMTP_STARTTLS and SMTP_USE_TLS: choose one (STARTTLS upgrades, USE_TLS is implicit TLS)")
    return problems


def _deployment_problems(settings: Settings) -> list[str]:
    """Staging and production refuse default secrets, the embedded servers and debug mode."""
    if settings.app.environment not in {"production", "staging"}:
        return []
    problems = [
        f"{name}: {settings.app.environment} needs its own secret of at least {MIN_SECRET_LENGTH} characters "
        "(a default or empty value is refused)"
        for name, value in (
            ("SECRET_KEY", settings.app.secret_key),
            ("JWT_SECRET_KEY", settings.security.jwt_secret_key),
        )
        if value.lower() in KNOWN_DEFAULT_SECRETS or len(value) < MIN_SECRET_LENGTH
    ]
    if not settings.database.url:
        problems.append("DATABASE_URL: required outside development (the embedded server is for laptops)")
    if not settings.redis.url:
        problems.append("REDIS_URL: required outside development (the embedded server is for laptops)")
    if settings.app.debug:
        problems.append("DEBUG: must be false in production and staging")
    return problems


def _semantic_problems(settings: Settings) -> list[str]:
    return [*_range_problems(settings), *_url_problems(settings), *_deployment_problems(settings)]


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
