"""Typed settings, read from the environment (and a local ``.env`` file).

Every setting is an environment variable with the prefix ``{{ cookiecutter.package_name | upper }}_``,
for example ``{{ cookiecutter.package_name | upper }}_DATABASE_URL``.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"
MIN_SECRET_LENGTH = 32
PLACEHOLDER_SECRETS = frozenset({"change-me", "changeme", "changethis", "secret", "not-so-secret"})

# Plain driver names select a synchronous driver; this service needs the async ones.
ASYNC_DRIVERS = {
    "postgres://": "postgresql+asyncpg://",
    "postgresql://": "postgresql+asyncpg://",
    "sqlite://": "sqlite+aiosqlite://",
}


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TESTING = "testing"
    PRODUCTION = "production"


class DatabaseSettings(BaseSettings):
    """Just what the database needs: migrations read these without the service's secrets."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )
{% if cookiecutter.database == "postgresql" %}
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/{{ cookiecutter.package_name }}"
{%- else %}
    database_url: str = "sqlite+aiosqlite:///var/{{ cookiecutter.package_name }}.db"
{%- endif %}
    database_echo: bool = False

    @field_validator("database_url")
    @classmethod
    def _use_async_driver(cls, url: str) -> str:
        for plain, async_url in ASYNC_DRIVERS.items():
            if url.startswith(plain):
                return async_url + url.removeprefix(plain)
        return url


class Settings(DatabaseSettings):
    """The service's configuration; invalid combinations fail at startup, not at first use."""

    environment: Environment = Environment.PRODUCTION
    debug: bool = False
    secret_key: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    max_content_length: int = Field(default=1024 * 1024, gt=0)

    @model_validator(mode="after")
    def _check_production_safety(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        if self.debug:
            raise ValueError(f"{ENV_PREFIX}DEBUG must be off in production")
        if self.secret_key is None:
            raise ValueError(f"{ENV_PREFIX}SECRET_KEY is required outside development and testing")
        secret = self.secret_key.get_secret_value()
        if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"{ENV_PREFIX}SECRET_KEY must be a random value of at least "
                f"{MIN_SECRET_LENGTH} characters, not a placeholder"
            )
        return self

    def quart_config(self) -> dict[str, Any]:
        """The Quart configuration keys these settings imply."""
        secret = self.secret_key.get_secret_value() if self.secret_key else None
        return {
            "SECRET_KEY": secret or secrets.token_urlsafe(48),
            "DEBUG": self.debug,
            "TESTING": self.environment is Environment.TESTING,
            # Unhandled errors become JSON 500s (and a log line) even in DEBUG and TESTING.
            "PROPAGATE_EXCEPTIONS": False,
            "MAX_CONTENT_LENGTH": self.max_content_length,
        }
