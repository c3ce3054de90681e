"""Typed settings, read from the environment (and a local ``.env`` file).

Every setting is an environment variable with the prefix ``{{ cookiecutter.package_name | upper }}_``,
for example ``{{ cookiecutter.package_name | upper }}_DATABASE_URL``.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
{%- if cookiecutter.auth == "jwt" %}
from urllib.parse import urlsplit
{%- endif %}

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
{%- if cookiecutter.rate_limit == "redis" %}
from redis.asyncio.connection import parse_url
{%- endif %}
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy import make_url
{%- endif %}

ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"
MIN_SECRET_LENGTH = 32
PLACEHOLDER_SECRETS = frozenset({"change-me", "changeme", "changethis", "secret", "not-so-secret"})
{%- if cookiecutter.auth == "jwt" %}
# Signed with a shared secret, or with a private key whose public half is in a JWKS.
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# An HMAC key as long as its hash's output (RFC 7518, 3.2): 32, 48 and 64 bytes.
HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
{%- endif %}

# The one database this service was made for. Plain URLs select a synchronous driver: they
# get the async one.
{%- if cookiecutter.database == "postgresql" %}
DATABASE = "PostgreSQL"
EXAMPLE_URL = "postgresql://user@host:5432/name"
ASYNC_DRIVER = "postgresql+asyncpg"
PLAIN_DRIVERS = frozenset({"postgres", "postgresql"})
# What asyncpg takes from the URL's query. libpq's sslmode is its ssl, with the same values.
URL_PARAMETERS = frozenset({"host", "ssl", "target_session_attrs", "prepared_statement_cache_size"})
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
{%- else %}
DATABASE = "SQLite"
EXAMPLE_URL = "sqlite:///var/name.db"
ASYNC_DRIVER = "sqlite+aiosqlite"
PLAIN_DRIVERS = frozenset({"sqlite"})
{%- endif %}


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
        # Errors name the setting, never echo its value (it may be a secret).
        hide_input_in_errors=True,
    )
{% if cookiecutter.database == "postgresql" %}
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/{{ cookiecutter.package_name }}"
{%- else %}
    database_url: str = "sqlite+aiosqlite:///var/{{ cookiecutter.package_name }}.db"
{%- endif %}
    # Log every SQL statement (at INFO, whatever LOG_LEVEL says).
    database_echo: bool = False
    # How long a request waits for a connection (from the pool, or a new one){% if cookiecutter.database == "sqlite" %}, or for
    # another process's write lock on SQLite,{% endif %} before a 503.
    database_timeout_seconds: float = Field(default=5.0, gt=0)
{%- if cookiecutter.database == "sqlite" %}
    # SQLite calls run on the event loop (fast); false: in aiosqlite's thread, so that long
    # queries do not hold up the worker's other requests (see sqlite.py).
    database_sqlite_inline: bool = True
{%- else %}
    # Connections each worker opens as it needs them and keeps, and how many more it may open
    # at busy times. Those are closed as they come back, so under steady load they are opened
    # and closed one after another: a pool that holds them all serves more (README).
    # Workers x (both) must stay under the server's max_connections.
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=0, ge=0)
{%- endif %}

    @field_validator("database_url")
    @classmethod
    def _use_async_driver(cls, url: str) -> str:
        driver, separator, rest = url.partition("://")
        if driver in PLAIN_DRIVERS:
            driver = ASYNC_DRIVER
        if not separator or driver != ASYNC_DRIVER:
            raise ValueError(
                f"{ENV_PREFIX}DATABASE_URL must be a URL for {DATABASE}, the database this "
                f"service was made for, such as {EXAMPLE_URL}"
            )
{%- if cookiecutter.database == "postgresql" %}
        return _asyncpg_parameters(f"{driver}://{rest}")
{%- else %}
        return f"{driver}://{rest}"
{%- endif %}


class Settings(DatabaseSettings):
    """The service's configuration; invalid combinations fail at startup, not at first use."""

    environment: Environment = Environment.PRODUCTION
    debug: bool = False
    secret_key: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    # Limits on what a client may send and how long the service waits for it.
    max_content_length: int = Field(default=1024 * 1024, gt=0)
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    response_timeout_seconds: float = Field(default=60.0, gt=0)

    # Browsers: CORS is off unless origins are listed (comma-separated); HSTS only behind TLS.
    cors_origins: Annotated[list[str], NoDecode] = []
    cors_allow_credentials: bool = False
    hsts_seconds: int = Field(default=0, ge=0)
    # Proxies in front of the service whose X-Forwarded-For may be believed (0: none).
    trusted_proxy_count: int = Field(default=0, ge=0, le=10)
{%- if cookiecutter.auth == "jwt" %}

    # Bearer tokens: an HS* secret, or RS*/ES*/PS*/EdDSA keys from a JWKS URL, never both.
    jwt_algorithms: Annotated[list[str], NoDecode] = ["HS256"]
    jwt_secret_key: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "{{ cookiecutter.project_slug }}-dev"
    jwt_audience: str = "{{ cookiecutter.project_slug }}"
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
{%- endif %}
{%- if cookiecutter.rate_limit != "none" %}

    # Requests per client address and API route, over a period.
    rate_limit_requests: int = Field(default=100, gt=0)
    rate_limit_period_seconds: float = Field(default=60.0, gt=0, le=86_400)
{%- endif %}
{%- if cookiecutter.rate_limit == "redis" %}
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    redis_key_prefix: str = "{{ cookiecutter.project_slug }}:rate-limit:"
    # How long a request waits for Redis (to connect, then to answer) before it is let through.
    redis_timeout_seconds: float = Field(default=0.5, gt=0)
{%- endif %}

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("cors_origins"{% if cookiecutter.auth == "jwt" %}, "jwt_algorithms"{% endif %}, mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

{%- if cookiecutter.rate_limit == "redis" %}

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, url: SecretStr) -> SecretStr:
        try:
            parse_url(url.get_secret_value())
        except ValueError:
            # Not from the error: it may quote the URL, and with it the password.
            raise ValueError(
                f"{ENV_PREFIX}REDIS_URL must be a Redis URL: redis://[:password@]host:port/db, "
                "rediss://... (TLS) or unix:///path"
            ) from None
        return url
{%- endif %}

    @model_validator(mode="after")
    def _check_browser_rules(self) -> Self:
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ValueError(
                f"{ENV_PREFIX}CORS_ALLOW_CREDENTIALS cannot be on when "
                f"{ENV_PREFIX}CORS_ORIGINS allows every origin (*)"
            )
        return self
{%- if cookiecutter.auth == "jwt" %}

    @model_validator(mode="after")
    def _check_token_keys(self) -> Self:
        algorithms = set(self.jwt_algorithms)
        unknown = algorithms - HMAC_ALGORITHMS - PUBLIC_KEY_ALGORITHMS
        if not algorithms or unknown:
            allowed = ", ".join(sorted(HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS))
            raise ValueError(f"{ENV_PREFIX}JWT_ALGORITHMS must be some of {allowed}")
        if algorithms & HMAC_ALGORITHMS and algorithms & PUBLIC_KEY_ALGORITHMS:
            # Mixing them invites algorithm confusion (a public key used as an HMAC secret).
            raise ValueError(f"{ENV_PREFIX}JWT_ALGORITHMS must not mix HS* with public-key ones")
        if self.jwt_uses_secret:
            if self.jwt_jwks_url:
                # Else the JWKS would be ignored, and every token its keys sign refused.
                raise ValueError(
                    f"{ENV_PREFIX}JWT_JWKS_URL is set, but {ENV_PREFIX}JWT_ALGORITHMS are HS* "
                    "ones: set them to the identity provider's (RS256, say), or unset the URL"
                )
            if self.jwt_secret_key is None or not self.jwt_secret_key.get_secret_value().strip():
                raise ValueError(f"{ENV_PREFIX}JWT_SECRET_KEY is required for HS* tokens")
            if self.environment is not Environment.DEVELOPMENT:
                length = max(HMAC_KEY_BYTES[algorithm] for algorithm in algorithms)
                _check_secret(self.jwt_secret_key, "JWT_SECRET_KEY", length)
        elif not self.jwt_jwks_url:
            raise ValueError(f"{ENV_PREFIX}JWT_JWKS_URL is required for public-key tokens")
        else:
            url = urlsplit(self.jwt_jwks_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError(
                    f"{ENV_PREFIX}JWT_JWKS_URL must be an https:// URL (http:// outside "
                    "production), such as https://idp.example/.well-known/jwks.json"
                )
            if self.environment is Environment.PRODUCTION and url.scheme != "https":
                raise ValueError(f"{ENV_PREFIX}JWT_JWKS_URL must be https:// in production")
        return self

    @property
    def jwt_uses_secret(self) -> bool:
        """Tokens are HS* ones, signed with JWT_SECRET_KEY (else keys come from the JWKS)."""
        return set(self.jwt_algorithms) <= HMAC_ALGORITHMS
{%- endif %}

    @model_validator(mode="after")
    def _check_deployment_safety(self) -> Self:
        if self.environment is Environment.DEVELOPMENT:
            return self
        if self.debug:
            raise ValueError(f"{ENV_PREFIX}DEBUG must be off outside development")
        if self.secret_key is None:
            raise ValueError(f"{ENV_PREFIX}SECRET_KEY is required outside development")
        _check_secret(self.secret_key, "SECRET_KEY")
        return self

    @property
    def docs_enabled(self) -> bool:
        """Whether the interactive docs page is served: it loads assets from a CDN, so only in
        development."""
        return self.environment is Environment.DEVELOPMENT

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
            "BODY_TIMEOUT": self.body_timeout_seconds,
            "RESPONSE_TIMEOUT": self.response_timeout_seconds,
        }


{% if cookiecutter.database == "postgresql" -%}
def _asyncpg_parameters(url: str) -> str:
    """``url`` with its query in asyncpg's terms, which are passed to it as arguments: an
    unknown one would fail every connection, so it is refused here."""
    parsed = make_url(url)
    query = dict(parsed.query)
    if "sslmode" in query:
        query.setdefault("ssl", query.pop("sslmode"))
        url = parsed.set(query=query).render_as_string(hide_password=False)
    unknown = sorted(set(query) - URL_PARAMETERS)
    if unknown:
        raise ValueError(
            f"{ENV_PREFIX}DATABASE_URL cannot take {', '.join(unknown)}: asyncpg takes "
            f"{', '.join(sorted(URL_PARAMETERS | {'sslmode'}))}"
        )
    if "ssl" in query and query["ssl"] not in SSL_MODES:
        raise ValueError(f"{ENV_PREFIX}DATABASE_URL: sslmode must be one of {', '.join(SSL_MODES)}")
    return url


{% endif -%}
def _check_secret(secret: SecretStr, name: str, length: int = MIN_SECRET_LENGTH) -> None:
    value = secret.get_secret_value()
    if value.lower() in PLACEHOLDER_SECRETS or len(value.encode()) < length:
        raise ValueError(
            f"{ENV_PREFIX}{name} must be a random value of at least {length} characters, "
            "not a placeholder"
        )


class StartupError(RuntimeError):
    """The app cannot start as the settings say, for a reason its message gives whole (a folder
    it cannot make, a JWKS it cannot fetch): logged in one line, without a traceback."""


def refusal(error: ValidationError) -> str:
    """Why the service will not start with these settings: a heading, then :func:`describe`."""
    return f"Cannot start: the settings are invalid.\n{describe(error)}"


def describe(error: ValidationError) -> str:
    """One line per problem in ``error``, each naming the environment variable to fix."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        if problem["loc"]:
            name = f"{ENV_PREFIX}{str(problem['loc'][0]).upper()}"
            if not message.startswith(name):
                message = f"{name}: {message}"
        lines.append(message)
    return "\n".join(lines)
