"""SQLite is set up for a concurrent service: foreign keys, WAL journal, a busy timeout."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from {{ cookiecutter.package_name }}.config import DatabaseSettings
from {{ cookiecutter.package_name }}.db import create_engine


async def test_every_connection_gets_the_pragmas(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'service.db'}"
    engine = create_engine(DatabaseSettings(_env_file=None, database_url=url))
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(text("PRAGMA busy_timeout")) == 5000
    finally:
        await engine.dispose()
    assert (tmp_path / "nested" / "service.db").exists()
