"""Checks across fields, run after the merged settings parse: ranges, URL schemes, deployment safety."""

from __future__ import annotations

from urllib.parse import urlsplit

from coins.settings.model import KNOWN_DEFAULT_SECRETS, MIN_SECRET_LENGTH, Settings

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


def semantic_problems(settings: Settings) -> list[str]:
    return [*_range_problems(settings), *_url_problems(settings), *_deployment_problems(settings)]
