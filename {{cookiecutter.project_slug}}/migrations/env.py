"""Alembic environment: async, with the URL and engine set-up the service itself uses."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

import sqlalchemy
from alembic import context
from alembic.autogenerate.api import AutogenContext
from pydantic import ValidationError
from sqlalchemy import make_url
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from {{ cookiecutter.package_name }}.config import DatabaseSettings, {% if cookiecutter.database == "sqlite" %}StartupError, {% endif %}describe
from {{ cookiecutter.package_name }}.db import create_engine
from {{ cookiecutter.package_name }}.errors import is_database_outage
from {{ cookiecutter.package_name }}.logs import configure_logging
from {{ cookiecutter.package_name }}.models import Base

config = context.config
# The service's log format, so that a deploy's log (migrate, then serve) reads as one.
if config.attributes.get("configure_logger", True):
    configure_logging("INFO")
    # Alembic names each of its autogenerate plugins as it loads them: seven lines a revision.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def database_settings() -> DatabaseSettings:
    """The URL a caller gave (tests, scripts), or else the service's own settings."""
    url = config.attributes.get("database_url")
    try:
        return DatabaseSettings(database_url=url) if url else DatabaseSettings()
    except ValidationError as error:
        raise SystemExit(f"Cannot migrate: the settings are invalid.\n{describe(error)}") from None


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=make_url(database_settings().database_url),
        target_metadata=Base.metadata,
        literal_binds=True,
{%- if cookiecutter.database == "sqlite" %}
        # SQLite can only alter tables by copying them; batch mode does that for us.
        render_as_batch=True,
{%- endif %}
    )
    with context.begin_transaction():
        context.run_migrations()


def render_item(type_: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    """Write a column type of the project's own (a ``TypeDecorator`` such as ``UTCDateTime``)
    as the SQLAlchemy type it stores, as ``0001`` does: a migration must not import the app,
    which changes after it. Anything else is written as Alembic would."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        stored = obj.impl_instance
        if getattr(sqlalchemy, type(stored).__name__, None) is type(stored):
            return f"sa.{stored!r}"
    return False


def do_run_migrations(connection: Connection) -> None:
{%- if cookiecutter.database == "sqlite" %}
    # Batch mode alters a table by copying it and dropping the old one; with foreign keys
    # enforced, that drop would delete (ON DELETE CASCADE) or refuse the rows that refer to
    # the table. SQLite's own procedure for altering a table: enforcement off (outside a
    # transaction, or it is ignored) while migrating, then a check.
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
{%- endif %}
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
{%- if cookiecutter.database == "sqlite" %}
        # SQLite can only alter tables by copying them; batch mode does that for us.
        render_as_batch=True,
{%- endif %}
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
{%- if cookiecutter.database == "sqlite" %}
    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if dangling:
        tables = ", ".join(sorted({str(row[0]) for row in dangling}))
        raise SystemExit(
            "The migrations ran but left rows whose foreign keys point nowhere "
            f"({len(dangling)}, in {tables}): PRAGMA foreign_key_check lists them."
        )
{%- endif %}


async def run_migrations_online() -> None:
{%- if cookiecutter.database == "sqlite" %}
    try:
        engine = create_engine(database_settings())
    except StartupError as error:
        # The database file's folder cannot be made: the message says which, and why.
        raise SystemExit(str(error)) from None
{%- else %}
    engine = create_engine(database_settings())
{%- endif %}
    try:
        try:
            connection = await engine.connect()
        except Exception as error:
            if not is_database_outage(error):
                raise
            # Down, unreachable, or no such database or role: what the server said is enough.
            raise SystemExit(f"Cannot migrate: {error}") from None
        try:
            await connection.run_sync(do_run_migrations)
        finally:
            await connection.close()
    finally:
        # Also when a migration fails: a connection left open keeps its driver's thread (and
        # so the process) alive after the traceback.
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
