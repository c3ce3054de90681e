"""Migrations build exactly the schema the models describe, and can be undone and redone."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import alembic.command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, Integer, Table, inspect

from {{ cookiecutter.package_name }}.blueprints.health import MIGRATIONS_TABLE
from {{ cookiecutter.package_name }}.config import ENV_PREFIX, DatabaseSettings
from {{ cookiecutter.package_name }}.db import create_engine
from {{ cookiecutter.package_name }}.models import Base, UTCDateTime

from .conftest import ALEMBIC_INI, PROJECT, drop_schema, migrate, unmigrate

# A revision after the project's first, whose upgrade() runs the line given.
NEXT_REVISION = '''"""A test's revision."""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    {}


def downgrade() -> None:
    pass
'''
FAILING_REVISION = NEXT_REVISION.format('raise RuntimeError("this migration fails")')


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


def test_a_database_that_cannot_be_reached_stops_the_migrations_with_one_line(
    unreachable_database_url: str,
) -> None:
    migrating = run_alembic(ALEMBIC_INI, unreachable_database_url, "upgrade", "head")

    assert migrating.returncode == 1
    assert migrating.stderr.startswith("Cannot migrate: ")
    assert "Traceback" not in migrating.stderr
{%- if cookiecutter.database == "sqlite" %}


def test_a_database_folder_that_cannot_be_made_stops_the_migrations_with_one_line(
    tmp_path: Path,
) -> None:
    in_the_way = tmp_path / "a file"
    in_the_way.touch()
    migrating = run_alembic(
        ALEMBIC_INI, f"sqlite+aiosqlite:///{in_the_way}/data/service.db", "upgrade", "head"
    )

    assert migrating.returncode == 1
    assert migrating.stderr == (
        f"Cannot make {in_the_way}/data, the folder of {ENV_PREFIX}DATABASE_URL's file: "
        "Not a directory\n"
    )
{%- endif %}


def copy_of_migrations(directory: Path) -> Path:
    """The project's Alembic set-up and ruff settings, copied to ``directory`` so that a test
    can add revisions; returns the copy's alembic.ini."""
    shutil.copy(ALEMBIC_INI, directory)
    shutil.copy(PROJECT / "pyproject.toml", directory)
    shutil.copytree(
        PROJECT / "migrations",
        directory / "migrations",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return directory / ALEMBIC_INI.name


def run_alembic(ini: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ini), *args],
        cwd=ini.parent,  # no .env
        env={**os.environ, f"{ENV_PREFIX}DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        # Only against a hang: the process used to outlive a failed migration.
        timeout=120,
        check=False,
    )


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


async def test_a_failed_migration_exits_with_its_error(tmp_path: Path, database_url: str) -> None:
    ini = copy_of_migrations(tmp_path)
    (tmp_path / "migrations" / "versions" / "0002_fails.py").write_text(FAILING_REVISION)
    engine = create_engine(DatabaseSettings(_env_file=None, database_url=database_url))
    try:
        await drop_schema(engine)
        migrating = await asyncio.to_thread(run_alembic, ini, database_url, "upgrade", "head")
        assert migrating.returncode == 1
        assert "RuntimeError: this migration fails" in migrating.stderr
    finally:
        await drop_schema(engine)
        await engine.dispose()


async def test_a_new_revision_passes_lint_and_runs(tmp_path: Path, database_url: str) -> None:
    """``make migration`` writes a revision that ``make lint`` accepts, with the project's own
    column types written as the SQLAlchemy types they store (no import of the app)."""
    ini = copy_of_migrations(tmp_path)
    config = Config(str(ini))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    engine = create_engine(DatabaseSettings(_env_file=None, database_url=database_url))
    notes = Table(
        "notes",
        Base.metadata,
        Column("id", Integer, primary_key=True),
        Column("written_at", UTCDateTime(), nullable=False),
    )
    try:
        await drop_schema(engine)
        await migrate(database_url)
        await asyncio.to_thread(alembic.command.revision, config, "add notes", autogenerate=True)
        [revision] = (tmp_path / "migrations" / "versions").glob("*_add_notes.py")
        source = revision.read_text()
        assert "sa.DateTime(timezone=True)" in source
        assert "{{ cookiecutter.package_name }}" not in source
        for check in (["check"], ["format", "--check"]):
            linted = await asyncio.to_thread(ruff, *check, str(revision), cwd=tmp_path)
            assert linted.returncode == 0, linted.stdout + linted.stderr

        await asyncio.to_thread(alembic.command.upgrade, config, "head")
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        Base.metadata.remove(notes)
        async with engine.begin() as connection:
            await connection.exec_driver_sql("DROP TABLE IF EXISTS notes")
        await drop_schema(engine)
        await engine.dispose()
