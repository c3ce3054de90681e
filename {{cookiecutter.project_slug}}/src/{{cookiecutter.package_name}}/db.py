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
from typing import {% if cookiecutter.database == "postgresql" %}Any, {% endif %}cast

from quart import Quart, current_app, g
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy import Dialect, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
{%- else %}
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
{%- endif %}

from .config import DatabaseSettings
{%- if cookiecutter.database == "sqlite" %}
from .sqlite import create_sqlite_engine
{%- endif %}

EXTENSION_KEY = "database"


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
{%- if cookiecutter.database == "sqlite" %}
    # Whether closing a session waits on the driver, so that a cancelled request could cut it
    # short (SQLite in its thread; not on the event loop).
    close_waits: bool = True


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An async engine for ``settings.database_url``; waits for a connection are bounded."""
    return create_sqlite_engine(settings)
{%- else %}


class DatabaseUnreachableError(Exception):
    """No connection to the database could be opened: the server refused it, could not be
    reached or timed out, or does not have the database or the role the URL names."""


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An async engine for ``settings.database_url``; waits for a connection are bounded."""
    engine = create_async_engine(
        settings.database_url,
        pool_timeout=settings.database_timeout_seconds,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        connect_args={"timeout": settings.database_timeout_seconds},
    )
    event.listen(engine.sync_engine, "do_connect", _connect_or_unreachable)
    return engine


def _connect_or_unreachable(
    dialect: Dialect, _record: Any, args: list[Any], params: dict[str, Any]
) -> Any:
    """Connect as the dialect would. The driver reports a server it cannot reach with the
    socket's own errors (OSError, TimeoutError), which SQLAlchemy passes on as they are, and
    one that turns it away (no such database or role, a wrong password, too many clients,
    starting up) with its generic error, as it would a failed query: named here, they answer
    503 without taking every OSError in the app's code, or every query error, for an outage.
    """
    try:
        return dialect.connect(*args, **params)
    except (OSError, TimeoutError, dialect.loaded_dbapi.Error) as error:
        raise DatabaseUnreachableError(f"Cannot connect to the database: {error!r}") from error
{%- endif %}


def init_app(app: Quart, settings: DatabaseSettings) -> None:
    """Open the database when ``app`` starts serving and close it when it stops."""

    @app.before_serving
    async def connect() -> None:
        engine = create_engine(settings)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
{%- if cookiecutter.database == "sqlite" %}
        app.extensions[EXTENSION_KEY] = Database(
            engine, sessions, close_waits=not settings.database_sqlite_inline
        )
{%- else %}
        app.extensions[EXTENSION_KEY] = Database(engine, sessions)
{%- endif %}

    @app.after_serving
    async def disconnect() -> None:
        database = app.extensions.pop(EXTENSION_KEY)
        await database.engine.dispose()

    app.teardown_request(close_session)


def get_database() -> Database:
    """The running app's database."""
    return cast(Database, current_app.extensions[EXTENSION_KEY])


def get_session() -> AsyncSession:
    """This request's session, created on first use."""
    if "db_session" not in g:
        g.db_session = get_database().sessions()
    return cast(AsyncSession, g.db_session)


async def close_session(_error: BaseException | None = None) -> None:
    """Close this request's session, if it made one (the teardown of every request).

    Closing returns the connection and rolls back whatever was not committed.

    When a client disconnects, the server cancels the request, and a close cut short
    would leave the pool to reset (and log) a connection still in use: a close that waits
{%- if cookiecutter.database == "sqlite" %}
    is shielded. One that does not (SQLite on the event loop) cannot be cut short, and
    gives the connection back at once rather than a turn of the event loop later.
{%- else %}
    is shielded.
{%- endif %}
    """
    session: AsyncSession | None = g.pop("db_session", None)
    if session is None:
        return
{%- if cookiecutter.database == "sqlite" %}
    if get_database().close_waits:
        await asyncio.shield(session.close())
    else:
        await session.close()
{%- else %}
    await asyncio.shield(session.close())
{%- endif %}
