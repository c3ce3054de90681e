"""Database lifecycle: one engine per serving process, one session per request.

The engine and session factory are made when the app starts serving and disposed when it
stops (never at import time), and live in ``app.extensions``. A request gets its session
lazily from :func:`get_session`, so endpoints that never touch the database open nothing;
the session is closed in teardown, which rolls back whatever the request did not commit
(so a request that fails half-way leaves nothing behind).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
{%- if cookiecutter.database == "sqlite" %}
from pathlib import Path
from typing import Any, cast
{%- else %}
from typing import cast
{%- endif %}

from quart import Quart, current_app, g
{%- if cookiecutter.database == "sqlite" %}
from sqlalchemy import event, make_url
{%- endif %}
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from .config import DatabaseSettings

EXTENSION_KEY = "database"
{%- if cookiecutter.database == "sqlite" %}
SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
)
{%- endif %}


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


{% if cookiecutter.database == "sqlite" -%}
def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An async engine for ``settings.database_url``, with SQLite set up for concurrent use."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(
            url, echo=settings.database_echo, pool_timeout=settings.database_timeout_seconds
        )
    pool: dict[str, Any] = {}
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # SQLite lets one writer in at a time and a worker runs on one core: one connection
        # per process queues requests fairly in the pool, where several would race for the
        # write lock and sleep in SQLite's busy handler (see BENCHMARKS.md). Processes still
        # share the file through busy_timeout.
        pool = {"pool_size": 1, "max_overflow": 0}
    engine = create_async_engine(
        url, echo=settings.database_echo, pool_timeout=settings.database_timeout_seconds, **pool
    )
    event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()
{%- else -%}
def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An async engine for ``settings.database_url``; waits for a connection are bounded."""
    return create_async_engine(
        settings.database_url,
        echo=settings.database_echo,
        pool_timeout=settings.database_timeout_seconds,
        connect_args={"timeout": settings.database_timeout_seconds},
    )
{%- endif %}


def init_app(app: Quart, settings: DatabaseSettings) -> None:
    """Open the database when ``app`` starts serving and close it when it stops."""

    @app.before_serving
    async def connect() -> None:
        engine = create_engine(settings)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        app.extensions[EXTENSION_KEY] = Database(engine, sessions)

    @app.after_serving
    async def disconnect() -> None:
        database = app.extensions.pop(EXTENSION_KEY)
        await database.engine.dispose()

    @app.teardown_request
    async def close_session(_error: BaseException | None) -> None:
        """Closing returns the connection and rolls back whatever was not committed.

        Shielded: when a client disconnects, the server cancels the request, and a close cut
        short would leave the pool to reset (and log) a connection still in use.
        """
        session: AsyncSession | None = g.pop("db_session", None)
        if session is not None:
            await asyncio.shield(session.close())


def get_database() -> Database:
    """The running app's database."""
    return cast(Database, current_app.extensions[EXTENSION_KEY])


def get_session() -> AsyncSession:
    """This request's session, created on first use."""
    if "db_session" not in g:
        g.db_session = get_database().sessions()
    return cast(AsyncSession, g.db_session)
