from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.config import DATABASE, ENV_PREFIX, Environment, Settings
from {{ cookiecutter.package_name }}.serve import main

GOOD_SECRET = "k" * 40


def make(**values: object) -> Settings:
{%- if cookiecutter.auth == "jwt" %}
    values.setdefault("jwt_secret_key", "j" * 40)
{%- endif %}
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_production_is_the_default_and_needs_a_secret() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY is required"):
        make()


@pytest.mark.parametrize("environment", ["production", "testing"])
@pytest.mark.parametrize("secret", ["change-me", "CHANGEME", "short"])
def test_outside_development_placeholder_or_short_secrets_are_refused(
    environment: str, secret: str
) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters") as caught:
        make(environment=environment, secret_key=secret)
    assert secret not in str(caught.value)


def test_production_refuses_debug() -> None:
    with pytest.raises(ValidationError, match="DEBUG must be off"):
        make(secret_key=GOOD_SECRET, debug=True)


def test_production_with_a_real_secret_is_accepted() -> None:
    settings = make(secret_key=GOOD_SECRET)
    assert settings.environment is Environment.PRODUCTION
    assert settings.quart_config()["SECRET_KEY"] == GOOD_SECRET


def test_development_makes_up_a_secret() -> None:
    first = make(environment="development").quart_config()["SECRET_KEY"]
    second = make(environment="development").quart_config()["SECRET_KEY"]
    assert len(first) >= 32
    assert first != second


def test_secrets_do_not_show_in_the_settings_repr() -> None:
    settings = make(secret_key=GOOD_SECRET)
    assert GOOD_SECRET not in repr(settings)
    assert GOOD_SECRET not in str(settings.model_dump())


def test_settings_come_from_prefixed_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}ENVIRONMENT", "development")
    monkeypatch.setenv(f"{ENV_PREFIX}DEBUG", "true")
    monkeypatch.setenv(f"{ENV_PREFIX}MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv(f"{ENV_PREFIX}LOG_LEVEL", "warning")

    settings = make()

    assert settings.environment is Environment.DEVELOPMENT
    assert settings.debug is True
    assert settings.max_content_length == 2048
    assert settings.log_level == "WARNING"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
{%- if cookiecutter.database == "postgresql" %}
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        # libpq's sslmode, as hosted databases give it, is asyncpg's ssl.
        ("postgres://u:p@h/db?sslmode=require", "postgresql+asyncpg://u:p@h/db?ssl=require"),
        (
            "postgresql://u@/db?host=/run/postgresql&target_session_attrs=read-write",
            "postgresql+asyncpg://u@/db?host=/run/postgresql&target_session_attrs=read-write",
        ),
{%- else %}
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
        ("sqlite+aiosqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
{%- endif %}
    ],
)
def test_database_urls_use_async_drivers(given: str, expected: str) -> None:
    assert make(environment="development", database_url=given).database_url == expected


@pytest.mark.parametrize(
    "url",
    [
{%- if cookiecutter.database == "postgresql" %}
        "sqlite:///var/x.db",
        "postgresql+psycopg2://u:hunter2@h/db",
{%- else %}
        "postgresql://u:hunter2@h/db",
        "sqlite+pysqlite:///var/x.db",
{%- endif %}
        "mysql://u:hunter2@h/db",
        "var/x.db",
    ],
)
def test_urls_for_another_database_or_driver_are_refused(url: str) -> None:
    refused = f"DATABASE_URL must be a URL for {DATABASE}, the database this service was made for"
    with pytest.raises(ValidationError, match=refused) as caught:
        make(environment="development", database_url=url)
    assert "hunter2" not in str(caught.value)


{%- if cookiecutter.database == "postgresql" %}


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ("application_name=web", "DATABASE_URL cannot take application_name: asyncpg takes host"),
        ("sslmode=on", "DATABASE_URL: sslmode must be one of disable, allow, prefer, require"),
    ],
)
def test_url_parameters_that_asyncpg_would_not_take_are_refused(query: str, refused: str) -> None:
    # Passed on, they would fail every connection: every request would answer 500.
    with pytest.raises(ValidationError, match=refused):
        make(environment="development", database_url=f"postgresql://u@h/db?{query}")
{%- endif %}


{%- if cookiecutter.rate_limit == "redis" %}


@pytest.mark.parametrize("url", ["http://:hunter2@h:6379", "redis://:hunter2@h:port/0"])
def test_a_redis_url_that_is_not_one_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="REDIS_URL must be a Redis URL") as caught:
        make(environment="development", redis_url=url)
    assert "hunter2" not in str(caught.value)
{%- endif %}


def test_the_server_refuses_to_start_on_invalid_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv(f"{ENV_PREFIX}SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv(f"{ENV_PREFIX}LOG_LEVEL", "LOUD")
    monkeypatch.setenv(f"{ENV_PREFIX}DATABASE_URL", "mysql://u@h/db")

    assert main(["--port", "1"]) == 2

    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "Cannot start: the settings are invalid."
    assert lines[1].startswith(f"{ENV_PREFIX}DATABASE_URL must be a")
    assert lines[2].startswith(f"{ENV_PREFIX}LOG_LEVEL: Input should be 'DEBUG'")


def test_settings_reach_the_app() -> None:
    app = create_app(
        make(
            environment="testing",
            secret_key=GOOD_SECRET,
            max_content_length=4096,
            body_timeout_seconds=7,
            response_timeout_seconds=9,
        )
    )
    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    assert app.config["BODY_TIMEOUT"] == 7
    assert app.config["RESPONSE_TIMEOUT"] == 9
    assert app.config["TESTING"] is True
    assert app.config["PROPAGATE_EXCEPTIONS"] is False


def test_cors_origins_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}CORS_ORIGINS", "https://a.example, https://b.example")
    assert make(environment="development").cors_origins == [
        "https://a.example",
        "https://b.example",
    ]


def test_cors_credentials_are_refused_with_every_origin() -> None:
    with pytest.raises(ValidationError, match="CORS_ALLOW_CREDENTIALS"):
        make(environment="development", cors_origins="*", cors_allow_credentials=True)
{%- if cookiecutter.auth == "jwt" %}


@pytest.mark.parametrize("secret", [None, "", "  "])
def test_hs_tokens_need_a_secret_even_in_development(secret: str | None) -> None:
    # An empty one, as `cp .env.example .env` leaves it, would fail every token with a 500.
    with pytest.raises(ValidationError, match="JWT_SECRET_KEY is required"):
        make(environment="development", jwt_secret_key=secret)


@pytest.mark.parametrize("environment", ["production", "testing"])
def test_outside_development_a_weak_jwt_secret_is_refused(environment: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET_KEY must be a random value"):
        make(environment=environment, secret_key=GOOD_SECRET, jwt_secret_key="secret")


@pytest.mark.parametrize(
    ("algorithms", "length"), [("HS256", 32), ("HS384", 48), ("HS256,HS512", 64)]
)
def test_outside_development_the_jwt_secret_is_as_long_as_its_hash(
    algorithms: str, length: int
) -> None:
    """RFC 7518: an HMAC key at least as long as the hash's output (PyJWT warns otherwise)."""
    with pytest.raises(ValidationError, match=f"at least {length} characters"):
        make(secret_key=GOOD_SECRET, jwt_algorithms=algorithms, jwt_secret_key="s" * (length - 1))
    settings = make(secret_key=GOOD_SECRET, jwt_algorithms=algorithms, jwt_secret_key="s" * length)
    assert settings.jwt_uses_secret


def test_a_jwks_url_with_hs_algorithms_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ValidationError, match=r"JWT_JWKS_URL is set, but .* are HS\* ones"):
        make(environment="development", jwt_jwks_url="https://idp.example/jwks.json")


@pytest.mark.parametrize(
    "url", ["notaurl", "idp.example/jwks.json", "ftp://idp.example/jwks.json", "https:///jwks"]
)
def test_a_jwks_url_must_be_a_web_url(url: str) -> None:
    # Else PyJWT refuses it only when the app is made: a traceback, not a settings error.
    with pytest.raises(ValidationError, match="JWT_JWKS_URL must be an https:// URL"):
        make(environment="development", jwt_algorithms="RS256", jwt_jwks_url=url)


@pytest.mark.parametrize(
    ("algorithms", "message"),
    [
        ("none", "must be some of"),
        ("", "must be some of"),
        ("HS256,RS256", "must not mix"),
        ("RS256", "JWT_JWKS_URL is required"),
    ],
)
def test_token_algorithms_are_checked(algorithms: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(environment="development", jwt_algorithms=algorithms)


def test_a_jwks_must_come_over_https_in_production() -> None:
    with pytest.raises(ValidationError, match="https"):
        make(
            secret_key=GOOD_SECRET,
            jwt_algorithms="RS256",
            jwt_jwks_url="http://idp.example/jwks.json",
        )
    settings = make(
        secret_key=GOOD_SECRET,
        jwt_algorithms="RS256,ES256",
        jwt_jwks_url="https://idp.example/jwks.json",
    )
    assert settings.jwt_algorithms == ["RS256", "ES256"]
{%- endif %}


def test_interactive_docs_only_in_development() -> None:
    development = create_app(make(environment="development"))
    production = create_app(make(secret_key=GOOD_SECRET))
    assert "swagger_ui" in development.view_functions
    assert "swagger_ui" not in production.view_functions
