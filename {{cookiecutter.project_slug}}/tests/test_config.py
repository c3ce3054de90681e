from __future__ import annotations

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.config import ENV_PREFIX, Environment, Settings

GOOD_SECRET = "k" * 40


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_production_is_the_default_and_needs_a_secret() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY is required"):
        make()


@pytest.mark.parametrize("secret", ["change-me", "CHANGEME", "short"])
def test_production_refuses_placeholder_or_short_secrets(secret: str) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        make(secret_key=secret)


def test_production_refuses_debug() -> None:
    with pytest.raises(ValidationError, match="DEBUG must be off"):
        make(secret_key=GOOD_SECRET, debug=True)


def test_production_with_a_real_secret_is_accepted() -> None:
    settings = make(secret_key=GOOD_SECRET)
    assert settings.environment is Environment.PRODUCTION
    assert settings.quart_config()["SECRET_KEY"] == GOOD_SECRET


@pytest.mark.parametrize("environment", [Environment.DEVELOPMENT, Environment.TESTING])
def test_development_and_testing_make_up_a_secret(environment: Environment) -> None:
    first = make(environment=environment).quart_config()["SECRET_KEY"]
    second = make(environment=environment).quart_config()["SECRET_KEY"]
    assert len(first) >= 32
    assert first != second


def test_settings_come_from_prefixed_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}ENVIRONMENT", "development")
    monkeypatch.setenv(f"{ENV_PREFIX}DEBUG", "true")
    monkeypatch.setenv(f"{ENV_PREFIX}MAX_CONTENT_LENGTH", "2048")

    settings = make()

    assert settings.environment is Environment.DEVELOPMENT
    assert settings.debug is True
    assert settings.max_content_length == 2048


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_urls_use_async_drivers(given: str, expected: str) -> None:
    assert make(environment="testing", database_url=given).database_url == expected


def test_settings_reach_the_app() -> None:
    app = create_app(make(environment="testing", max_content_length=4096))
    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    assert app.config["TESTING"] is True
    assert app.config["PROPAGATE_EXCEPTIONS"] is False


def test_interactive_docs_only_in_development() -> None:
    development = create_app(make(environment="development"))
    production = create_app(make(secret_key=GOOD_SECRET))
    assert "swagger_ui" in development.view_functions
    assert "swagger_ui" not in production.view_functions
