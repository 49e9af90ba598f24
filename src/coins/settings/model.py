"""The settings' shape: one frozen struct per section, with the derived paths and URLs the app needs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit, urlunsplit

import msgspec

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
    for candidate in (here.parents[3], Path.cwd()):
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
