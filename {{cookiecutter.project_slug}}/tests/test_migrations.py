"""Migrations build exactly the schema the models describe, and can be undone and redone."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from {{ cookiecutter.package_name }}.config import DatabaseSettings
from {{ cookiecutter.package_name }}.db import create_engine
from {{ cookiecutter.package_name }}.models import Base

from .conftest import drop_schema, migrate, unmigrate


def differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(DatabaseSettings(_env_file=None, database_url=database_url))
    try:
        await drop_schema(engine)

        await migrate(database_url)
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []

        await unmigrate(database_url)
        async with engine.connect() as connection:
            assert await connection.run_sync(table_names) == {"alembic_version"}

        # Undone cleanly: nothing left behind stops them running again.
        await migrate(database_url)
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()
