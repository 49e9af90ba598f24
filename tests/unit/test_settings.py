"""Configuration: layering, validation that reports every problem, production refusing defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from coins.settings import ConfigError, asyncpg_url, load_settings, redis_scheme

STRONG = "x" * 40


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_layers_yaml_then_environment_file_then_variables(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", "database:\n  pool_size: 10\n  max_overflow: 20\nlogging:\n  level: INFO\n")
    write(tmp_path, "staging.yaml", "database:\n  pool_size: 30\nlogging:\n  format: json\n")
    settings = load_settings(
        {
            "ENVIRONMENT": "staging",
            "DATABASE_URL": "postgres://u:p@db/coins",
            "REDIS_URL": "redis://cache:6379/0",
            "SECRET_KEY": STRONG,
            "JWT_SECRET_KEY": STRONG + "y",
            "DATABASE_MAX_OVERFLOW": "7",
            "CORS_ORIGINS": "https://a.example, https://b.example",
            "SMTP_STARTTLS": "true",
        },
        config_dir=tmp_path,
    )
    assert settings.database.pool_size == 30  # environment file over base
    assert settings.database.max_overflow == 7  # variable over files
    assert settings.logging.format == "json"
    assert settings.logging.level == "INFO"
    assert settings.security.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.smtp.starttls is True


def test_every_bad_value_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "DATABASE_POOL_SIZE": "lots",
                "PORT": "99999",
                "DEBUG": "maybe",
                "DATABASE_URL": "mysql://x/y",
                "RATE_LIMIT_PER_MINUTE": "-1",
            },
            config_dir=tmp_path,
        )
    text = str(caught.value)
    assert "DATABASE_POOL_SIZE='lots': expected a whole number" in text
    assert "DEBUG='maybe': expected true or false" in text
    # Type errors stop the semantic checks, so fix those first; then the rest appear.
    with pytest.raises(ConfigError) as second:
        load_settings(
            {"PORT": "99999", "DATABASE_URL": "mysql://x/y", "RATE_LIMIT_PER_MINUTE": "-1"},
            config_dir=tmp_path,
        )
    problems = second.value.problems
    assert any(p.startswith("PORT=99999") for p in problems)
    assert any(p.startswith("DATABASE_URL:") for p in problems)
    assert any(p.startswith("RATE_LIMIT_PER_MINUTE=-1") for p in problems)
    assert len(problems) == 3


def test_production_refuses_default_secrets_and_embedded_servers(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {"ENVIRONMENT": "production", "JWT_SECRET_KEY": "your-secret-key", "DEBUG": "true"},
            config_dir=tmp_path,
        )
    problems = "\n".join(caught.value.problems)
    assert "SECRET_KEY: production needs its own secret" in problems
    assert "JWT_SECRET_KEY: production needs its own secret" in problems
    assert "DATABASE_URL: required outside development" in problems
    assert "REDIS_URL: required outside development" in problems
    assert "DEBUG: must be false" in problems


def test_production_with_real_values_loads(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ENVIRONMENT": "production",
            "DATABASE_URL": "postgresql://app:pw@db:5432/coins",
            "REDIS_URL": "redis://valkey:6379/0",
            "SECRET_KEY": STRONG,
            "JWT_SECRET_KEY": STRONG + "j",
        },
        config_dir=tmp_path,
    )
    assert settings.is_production
    assert settings.app.secret_key == STRONG


def test_unknown_environment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENVIRONMENT='prod'"):
        load_settings({"ENVIRONMENT": "prod"}, config_dir=tmp_path)


def test_development_secrets_are_stable_and_shared(tmp_path: Path) -> None:
    """Every replica started from the same folder gets the same keys, also after a restart."""
    data = tmp_path / "data"
    first = load_settings({"DATA_DIR": str(data)}, config_dir=tmp_path)
    second = load_settings({"DATA_DIR": str(data)}, config_dir=tmp_path)
    assert first.app.secret_key == second.app.secret_key
    assert first.security.jwt_secret_key == second.security.jwt_secret_key
    assert len(first.app.secret_key) >= 32
    assert first.app.secret_key != first.security.jwt_secret_key
    assert oct((data / "secret_key").stat().st_mode)[-3:] == "600"


def test_the_repository_config_files_load() -> None:
    for environment in ("development", "test"):
        assert load_settings({"ENVIRONMENT": environment}).app.environment == environment
    production = load_settings(
        {
            "ENVIRONMENT": "production",
            "DATABASE_URL": "postgresql://a:b@c/d",
            "REDIS_URL": "redis://e:6379/0",
            "SECRET_KEY": STRONG,
            "JWT_SECRET_KEY": STRONG,
        }
    )
    assert production.database.pool_size == 50  # the operations guide's production values
    assert production.logging.format == "json"
    assert production.security.secure_cookies is True


def test_url_spellings() -> None:
    assert asyncpg_url("postgres://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert asyncpg_url("postgresql+asyncpg://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert redis_scheme("valkey://:pw@h:1/0") == "redis://:pw@h:1/0"
    assert redis_scheme("rediss://h") == "rediss://h"
