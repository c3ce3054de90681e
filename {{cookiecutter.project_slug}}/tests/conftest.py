"""Shared fixtures: a fresh app per test, started with its real lifespan, on a fresh database."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import alembic.command
import httpx
import pytest
from alembic.config import Config
from quart import Quart
from quart.testing import QuartClient
from quart.wrappers import Response
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
{%- else %}
from sqlalchemy.ext.asyncio import AsyncEngine
{%- endif %}
from werkzeug.datastructures import Headers

from {{ cookiecutter.package_name }}.app import create_app
{%- if cookiecutter.auth == "jwt" %}
from {{ cookiecutter.package_name }}.auth import mint_token
{%- endif %}
from {{ cookiecutter.package_name }}.blueprints.health import MIGRATIONS_TABLE
from {{ cookiecutter.package_name }}.config import ENV_PREFIX, {% if cookiecutter.database == "postgresql" %}DatabaseSettings, {% endif %}Environment, Settings
from {{ cookiecutter.package_name }}.db import create_engine, get_database
from {{ cookiecutter.package_name }}.models import Base

PROJECT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = PROJECT / "alembic.ini"
{% if cookiecutter.server == "hypercorn" -%}
HYPERCORN_CONFIG = PROJECT / "hypercorn.toml"
{% endif -%}
{% if cookiecutter.rate_limit != "none" -%}
# Limits high enough that no test but the rate-limit ones ever meets them.
UNLIMITED = 1_000_000
{% endif -%}
{% if cookiecutter.auth == "jwt" -%}
ALL_SCOPES = ("items:read", "items:write")
{% endif -%}
{% if cookiecutter.database == "postgresql" %}
# A PostgreSQL database the tests may empty at will; created on first use. Read as
# DATABASE_URL is: postgresql:// URLs get the async driver.
TEST_DATABASE_URL = DatabaseSettings(
    _env_file=None,
    database_url=os.environ.get(
        f"{ENV_PREFIX}TEST_DATABASE_URL",
        "postgresql://postgres@127.0.0.1:5432/{{ cookiecutter.package_name }}_test",
    ),
).database_url


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


def fresh_database_url(_directory: Path) -> str:
    """The test database (created on first use); the tests empty its tables themselves."""
    asyncio.run(_create_database(TEST_DATABASE_URL))
    return TEST_DATABASE_URL


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return fresh_database_url(tmp_path_factory.getbasetemp())


@pytest.fixture
def unreachable_database_url() -> str:
    """A server nobody listens on."""
    return "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"
{%- else %}

def fresh_database_url(directory: Path) -> str:
    """A new SQLite file in ``directory``."""
    return f"sqlite+aiosqlite:///{directory / 'test.db'}"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return fresh_database_url(tmp_path)


@pytest.fixture
def unreachable_database_url(tmp_path: Path) -> str:
    """A path that is a folder, so SQLite cannot open it."""
    (tmp_path / "folder.db").mkdir()
    return f"sqlite+aiosqlite:///{tmp_path / 'folder.db'}"
{%- endif %}


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test app: a testing environment with real secrets and no limits."""
    values: dict[str, Any] = {
        "environment": Environment.TESTING,
        "database_url": database_url,
        "secret_key": secrets.token_urlsafe(48),
{%- if cookiecutter.auth == "jwt" %}
        "jwt_secret_key": secrets.token_urlsafe(48),
{%- endif %}
{%- if cookiecutter.rate_limit != "none" %}
        "rate_limit_requests": UNLIMITED,
{%- endif %}
{%- if cookiecutter.rate_limit == "redis" %}
        "redis_url": os.environ.get(f"{ENV_PREFIX}TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "redis_key_prefix": f"test-{secrets.token_hex(8)}:",
        # A busy test machine can take longer than the default 0.5 s to connect, and the tests
        # that count requests would then see them let through; test_ratelimit tests the timeout.
        "redis_timeout_seconds": 10.0,
{%- endif %}
    }
    return Settings(_env_file=None, **{**values, **overrides})


def authorization(settings: Settings) -> dict[str, str]:
    """Headers that let a request through {% if cookiecutter.auth == "jwt" %}(a token with every scope){% else %}(none: there is no auth){% endif %}."""
{%- if cookiecutter.auth == "jwt" %}
    return {"Authorization": f"Bearer {mint_token(settings, 'tester', ALL_SCOPES)}"}
{%- else %}
    return {}
{%- endif %}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


def alembic_config(database_url: str) -> Config:
    """The project's Alembic set-up, pointed at ``database_url``."""
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


async def drop_schema(engine: AsyncEngine) -> None:
    """Drop every table, Alembic's record of the revision included."""
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.exec_driver_sql(f"DROP TABLE IF EXISTS {MIGRATIONS_TABLE}")


async def migrate(database_url: str) -> None:
    """Run every migration (``alembic upgrade head``), as ``make migrate`` does."""
    await asyncio.to_thread(alembic.command.upgrade, alembic_config(database_url), "head")


async def unmigrate(database_url: str) -> None:
    """Undo every migration (``alembic downgrade base``): Alembic's table stays, empty."""
    await asyncio.to_thread(alembic.command.downgrade, alembic_config(database_url), "base")


async def empty_tables(engine: AsyncEngine) -> None:
    """Empty tables, built as production builds them: by the migrations."""
    await drop_schema(engine)
    await migrate(engine.url.render_as_string(hide_password=False))


@asynccontextmanager
async def started_app(settings: Settings) -> AsyncIterator[Quart]:
    """An app for ``settings``, started (its before_serving ran), on empty tables."""
    app = create_app(settings)
    async with app.test_app():
        async with app.app_context():
            await empty_tables(get_database().engine)
        # Outside the app context, as in production: each request gets its own (and its own g).
        yield app


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    async with started_app(settings) as app:
        yield app


class AuthorizedClient(QuartClient):
    """A test client whose requests carry ``authorization`` headers, unless they set their own."""

    def __init__(self, app: Quart, authorization: dict[str, str]) -> None:
        super().__init__(app)
        self.authorization = authorization

    async def open(
        self, path: str, *, headers: dict[str, str] | Headers | None = None, **kwargs: Any
    ) -> Response:
        headers = Headers(headers)
        for name, value in self.authorization.items():
            headers.setdefault(name, value)
        return await super().open(path, headers=headers, **kwargs)


@pytest.fixture
def client(app: Quart, settings: Settings) -> QuartClient:
    """A client whose requests pass auth{% if cookiecutter.auth == "jwt" %} (a token with every scope); ``app.test_client()`` has none{% endif %}."""
    return AuthorizedClient(app, authorization(settings))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The service in a child process, started as `make serve` starts it, set up like production."""

    def __init__(
        self, settings: Settings, log: Path, workers: int = 1, host: str = "127.0.0.1"
    ) -> None:
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.settings = settings
        self.workers = workers
        env = {**os.environ, **settings_environment(settings)}
        command = [
            *(sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"),
            *("--host", host, "--port", str(self.port), "--workers", str(workers)),
        ]
{%- if cookiecutter.server == "hypercorn" %}
        command += ["--config", str(HYPERCORN_CONFIG)]
{%- endif %}
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                command, cwd=log.parent, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        self.log = log

    def wait_until_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"The server did not become ready:\n{self.log.read_text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=30)


def settings_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the environment variables that would produce them."""
    values = settings.model_dump(mode="json", exclude_none=True)
    environment = {}
    for name, value in values.items():
        secret = getattr(settings, name)
        if hasattr(secret, "get_secret_value"):
            value = secret.get_secret_value()
        if isinstance(value, list):
            value = ",".join(value)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        environment[f"{ENV_PREFIX}{name.upper()}"] = text
    return environment


async def empty_tables_of(settings: Settings) -> None:
    """Empty tables in the database of ``settings``, with an engine of its own."""
    engine = create_engine(settings)
    try:
        await empty_tables(engine)
    finally:
        await engine.dispose()


def prepare(settings: Settings) -> None:
    """Empty tables in the database of ``settings`` (from outside any event loop)."""
    asyncio.run(empty_tables_of(settings))


@pytest.fixture
def live_server(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    """Empty tables and the service serving them over real HTTP, with one worker unless the
    test asks for more (``@pytest.mark.parametrize("live_server", [2], indirect=True)``)."""
    prepare(settings)
    server = LiveServer(settings, tmp_path / "server.log", getattr(request, "param", 1))
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()
