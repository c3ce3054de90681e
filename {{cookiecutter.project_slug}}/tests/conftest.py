"""Shared fixtures: a fresh app per test, started with its real lifespan, on a fresh database."""

from __future__ import annotations

{% if cookiecutter.database == "postgresql" -%}
import asyncio
import os
{% endif -%}
from collections.abc import AsyncIterator
{%- if cookiecutter.database == "sqlite" %}
from pathlib import Path
{%- endif %}
from typing import cast

import pytest
from quart import Quart
from quart.testing import QuartClient
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
{%- endif %}

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.config import {% if cookiecutter.database == "postgresql" %}ENV_PREFIX, {% endif %}Environment, Settings
from {{ cookiecutter.package_name }}.db import get_database
from {{ cookiecutter.package_name }}.models import Base
{% if cookiecutter.database == "postgresql" %}
# A PostgreSQL database the tests may empty at will; created on first use.
TEST_DATABASE_URL = os.environ.get(
    f"{ENV_PREFIX}TEST_DATABASE_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/{{ cookiecutter.package_name }}_test",
)


async def _create_database(url: str) -> None:
    target = make_url(url)
    server = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            )
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        await server.dispose()


@pytest.fixture(scope="session")
def database_url() -> str:
    asyncio.run(_create_database(TEST_DATABASE_URL))
    return TEST_DATABASE_URL


@pytest.fixture
def unreachable_database_url() -> str:
    """A server nobody listens on."""
    return "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"
{%- else %}

@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def unreachable_database_url(tmp_path: Path) -> str:
    """A path that is a folder, so SQLite cannot open it."""
    (tmp_path / "folder.db").mkdir()
    return f"sqlite+aiosqlite:///{tmp_path / 'folder.db'}"
{%- endif %}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        environment=Environment.TESTING,
        database_url=database_url,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    """A started app (its before_serving ran) on empty tables."""
    app = create_app(settings)
    async with app.test_app(), app.app_context():
        async with get_database().engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
        yield app


@pytest.fixture
def client(app: Quart) -> QuartClient:
    return cast(QuartClient, app.test_client())
