"""SQLite is set up for a concurrent service: foreign keys, WAL journal, a busy timeout,
memory-mapped reads, and calls made on the event loop unless that is turned off."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }} import sqlite
from {{ cookiecutter.package_name }}.config import DatabaseSettings
from {{ cookiecutter.package_name }}.db import (
    close_session,
    create_engine,
    get_database,
    get_session,
)
from {{ cookiecutter.package_name }}.models import Base

from .conftest import AuthorizedClient, authorization, make_settings, migrate, started_app
from .test_migrations import NEXT_REVISION, copy_of_migrations, run_alembic

# One revision copies the items table, as batch mode does for most changes on SQLite (which
# keeps AUTOINCREMENT only when told to: SQLAlchemy does not read it back); the other deletes
# every item.
COPIES_ITEMS = NEXT_REVISION.format(
    "with op.batch_alter_table(\n"
    '        "items", recreate="always", table_kwargs={"sqlite_autoincrement": True}\n'
    "    ):\n"
    "        pass"
)
DELETES_ITEMS = NEXT_REVISION.format('op.execute("DELETE FROM items")')


def raised_by(database: str, statement: str, **connect: Any) -> sqlite3.Error:
    """The error SQLite raises for ``statement`` on a new connection to ``database``."""
    try:
        with contextlib.closing(sqlite3.connect(database, **connect)) as connection:
            connection.execute(statement)
    except sqlite3.Error as error:
        return error
    raise AssertionError(f"{statement!r} ran on {database}")


async def tables_with_autoincrement(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        tables = await connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
        )
        return {table.name for table in tables if "AUTOINCREMENT" in table.sql}


@asynccontextmanager
async def sqlite_engine(path: Path, **settings: Any) -> AsyncIterator[AsyncEngine]:
    """The service's engine for a SQLite file at ``path``, disposed afterwards."""
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(DatabaseSettings(_env_file=None, database_url=url, **settings))
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_every_connection_gets_the_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "service.db"
    async with (
        sqlite_engine(path, database_timeout_seconds=2.5) as engine,
        engine.connect() as connection,
    ):
        assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
        assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
        # Another process's write lock is waited for as long as the database timeout.
        assert await connection.scalar(text("PRAGMA busy_timeout")) == 2500
        # Reads come from the OS's cache of the file, not a small cache of the connection's own.
        assert await connection.scalar(text("PRAGMA mmap_size")) == 2**30
    assert (tmp_path / "nested" / "service.db").exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
async def test_an_in_memory_database_is_one_connection_every_session_shares(url: str) -> None:
    settings = DatabaseSettings(_env_file=None, database_url=url)
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE notes (body TEXT)"))
            await connection.execute(text("INSERT INTO notes VALUES ('kept')"))
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT body FROM notes")) == "kept"
    finally:
        await engine.dispose()


@pytest.mark.parametrize("inline", [True, False])
async def test_sqlite_runs_on_the_event_loop_unless_turned_off(
    tmp_path: Path, inline: bool
) -> None:
    async with (
        sqlite_engine(tmp_path / "service.db", database_sqlite_inline=inline) as engine,
        engine.connect() as connection,
    ):
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.create_function("thread_id", 0, threading.get_ident)
        thread = await connection.scalar(text("SELECT thread_id()"))
    assert (thread == threading.get_ident()) is inline


@pytest.mark.parametrize("inline", [True, False])
async def test_a_request_cancelled_while_closing_its_session_keeps_the_connection(
    database_url: str, inline: bool
) -> None:
    # A client that disconnects gets its request cancelled, perhaps while the teardown closes
    # the session: the connection must still go back to the pool, rolled back and reusable,
    # rather than be thrown away and opened again.
    settings = make_settings(database_url, database_sqlite_inline=inline)
    async with started_app(settings) as app, app.test_request_context("/"):
        opened: list[object] = []
        engine = get_database().engine.sync_engine
        event.listen(engine, "connect", lambda connection, _record: opened.append(connection))
        assert await get_session().scalar(text("SELECT 1")) == 1

        teardown = asyncio.create_task(close_session())
        await asyncio.sleep(0)
        teardown.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await teardown
        # The pool holds one connection: this session gets it only if it went back.
        async with get_database().sessions() as session:
            assert await session.scalar(text("SELECT 2")) == 2
        assert opened == []


@pytest.mark.parametrize("inline", [True, False])
async def test_a_transaction_left_open_is_rolled_back_when_the_pool_takes_it_back(
    tmp_path: Path, inline: bool
) -> None:
    async with sqlite_engine(tmp_path / "service.db", database_sqlite_inline=inline) as engine:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE notes (body TEXT)"))
        async with engine.connect() as connection:
            # Behind SQLAlchemy's back: the driver begins a transaction it never ends.
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.execute("INSERT INTO notes VALUES ('uncommitted')")
            assert driver.in_transaction
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM notes")) == 0
            assert not driver.in_transaction


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


@pytest.mark.parametrize("inline", [True, False])
async def test_a_write_lock_held_by_another_process_is_a_503_until_it_is_released(
    database_url: str, inline: bool
) -> None:
    settings = make_settings(
        database_url, database_timeout_seconds=0.2, database_sqlite_inline=inline
    )
    async with started_app(settings) as app:
        client = AuthorizedClient(app, authorization(settings))
        other_process = sqlite3.connect(str(make_url(database_url).database))
        other_process.execute("BEGIN IMMEDIATE")
        try:
            locked = await client.post("/api/v1/items", json={"name": "waits"})
            read = await client.get("/api/v1/items")
        finally:
            other_process.rollback()
            other_process.close()
        created = await client.post("/api/v1/items", json={"name": "after"})

    assert locked.status_code == 503
    assert locked.headers["Retry-After"] == "5"
    # WAL: readers are never blocked by a writer.
    assert read.status_code == 200
    assert created.status_code == 201
    assert (await created.get_json())["name"] == "after"


def test_an_unavailable_database_is_told_from_wrong_sql(tmp_path: Path) -> None:
    path = str(tmp_path / "service.db")
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY)")
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other_process:
        other_process.execute("BEGIN EXCLUSIVE")
        locked = raised_by(path, "SELECT * FROM items", timeout=0)
    outages = {
        "locked": locked,
        "read-only": raised_by(f"file:{path}?mode=ro", "DELETE FROM items", uri=True),
        "a folder where the file should be": raised_by(str(tmp_path), "SELECT 1"),
    }
    bugs = {
        "no such table": raised_by(path, "SELECT * FROM no_such_table"),
        "no such column": raised_by(path, "SELECT no_such_column FROM items"),
        "syntax": raised_by(path, "SELEKT 1"),
    }

    assert {name for name, error in outages.items() if sqlite.is_outage(error)} == set(outages)
    assert {name for name, error in bugs.items() if sqlite.is_outage(error)} == set()
    assert not sqlite.is_outage(ValueError("Connection closed"))


async def test_the_migrations_give_autoincrement_to_the_tables_that_ask_for_it(
    tmp_path: Path,
) -> None:
    """A table that declares ``sqlite_autoincrement`` never gives a deleted row's id to
    another; batch mode drops it when it copies the table unless its ``table_kwargs`` say so."""
    path = tmp_path / "service.db"
    await migrate(f"sqlite+aiosqlite:///{path}")
    asking = {
        table.name
        for table in Base.metadata.tables.values()
        if table.dialect_options["sqlite"]["autoincrement"]
    }

    async with sqlite_engine(path) as engine:
        assert asking <= await tables_with_autoincrement(engine)
    assert "items" in asking


@asynccontextmanager
async def item_with_a_note(path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated database at ``path`` with one item, and a note that refers to it through a
    foreign key (ON DELETE CASCADE), in a table the migrations do not know."""
    await migrate(f"sqlite+aiosqlite:///{path}")
    async with sqlite_engine(path) as engine:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "CREATE TABLE notes (id INTEGER PRIMARY KEY, "
                "item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE)"
            )
            await connection.exec_driver_sql(
                "INSERT INTO items (id, name, created_at, updated_at) "
                "VALUES (1, 'kept', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
            await connection.exec_driver_sql("INSERT INTO notes (item_id) VALUES (1)")
        yield engine


async def test_a_migration_that_copies_a_table_keeps_the_rows_that_refer_to_it(
    tmp_path: Path,
) -> None:
    ini = copy_of_migrations(tmp_path)
    (tmp_path / "migrations" / "versions" / "0002_copy_items.py").write_text(COPIES_ITEMS)
    async with item_with_a_note(tmp_path / "service.db") as engine:
        url = engine.url.render_as_string()
        migrating = await asyncio.to_thread(run_alembic, ini, url, "upgrade", "head")

        assert migrating.returncode == 0, migrating.stderr
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM notes")) == 1
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
        assert "items" in await tables_with_autoincrement(engine)


async def test_a_migration_that_leaves_rows_pointing_nowhere_says_so(tmp_path: Path) -> None:
    ini = copy_of_migrations(tmp_path)
    (tmp_path / "migrations" / "versions" / "0002_delete_items.py").write_text(DELETES_ITEMS)
    async with item_with_a_note(tmp_path / "service.db") as engine:
        url = engine.url.render_as_string()
        migrating = await asyncio.to_thread(run_alembic, ini, url, "upgrade", "head")

    assert migrating.returncode == 1
    assert migrating.stderr.strip().endswith(
        "The migrations ran but left rows whose foreign keys point nowhere (1, in notes): "
        "PRAGMA foreign_key_check lists them."
    )
