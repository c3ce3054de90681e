"""SQLite is set up for a concurrent service: foreign keys, WAL journal, a busy timeout, and
calls made on the event loop unless that is turned off."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from {{ cookiecutter.package_name }}.config import DatabaseSettings
from {{ cookiecutter.package_name }}.db import create_engine
from {{ cookiecutter.package_name }}.sqlite import runs_inline

from .conftest import AuthorizedClient, authorization, make_settings, started_app


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


@pytest.mark.parametrize("inline", [True, False])
async def test_sqlite_runs_on_the_event_loop_unless_turned_off(
    tmp_path: Path, inline: bool
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
    settings = DatabaseSettings(_env_file=None, database_url=url, database_sqlite_inline=inline)
    engine = create_engine(settings)
    assert runs_inline(engine) is inline
    try:
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.create_function("thread_id", 0, threading.get_ident)
            thread = await connection.scalar(text("SELECT thread_id()"))
    finally:
        await engine.dispose()
    assert (thread == threading.get_ident()) is inline


async def test_the_api_works_with_sqlite_in_its_thread(database_url: str) -> None:
    settings = make_settings(database_url, database_sqlite_inline=False)
    async with started_app(settings) as app:
        client = AuthorizedClient(app, authorization(settings))
        created = await client.post("/api/v1/items", json={"name": "threaded"})
        assert created.status_code == 201
        read = await client.get(created.headers["Location"])
        assert (await read.get_json())["name"] == "threaded"
        assert (await client.delete(created.headers["Location"])).status_code == 204
        assert (await client.get(created.headers["Location"])).status_code == 404
