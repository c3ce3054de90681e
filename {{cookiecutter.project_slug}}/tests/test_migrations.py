"""Migrations build exactly the schema the models describe, and can be undone and redone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from {{ cookiecutter.package_name }}.blueprints.health import MIGRATIONS_TABLE
from {{ cookiecutter.package_name }}.config import ENV_PREFIX, DatabaseSettings
from {{ cookiecutter.package_name }}.db import create_engine
from {{ cookiecutter.package_name }}.models import Base

from .conftest import ALEMBIC_INI, drop_schema, migrate, unmigrate


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
            assert await connection.run_sync(table_names) == {MIGRATIONS_TABLE}

        # Undone cleanly: nothing left behind stops them running again.
        await migrate(database_url)
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


def test_invalid_settings_stop_the_migrations_with_one_line_each(tmp_path: Path) -> None:
    env = {**os.environ, f"{ENV_PREFIX}DATABASE_URL": "mysql://u:hunter2@h/db"}
    migrating = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), "upgrade", "head"],
        cwd=tmp_path,  # no .env
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrating.returncode == 1
    lines = migrating.stderr.splitlines()
    assert lines[0] == "Cannot migrate: the settings are invalid."
    assert lines[1].startswith(f"{ENV_PREFIX}DATABASE_URL must be a URL for")
    assert "Traceback" not in migrating.stderr
    assert "hunter2" not in migrating.stderr
