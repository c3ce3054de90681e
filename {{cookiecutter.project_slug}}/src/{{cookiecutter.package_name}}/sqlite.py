"""SQLite set up for a service: one connection per process, WAL, reads from memory-mapped
pages, and calls on the event loop.

aiosqlite hands every call (cursor, execute, fetch, close, commit, rollback) to a thread of its
own and the result back through the event loop: five or six hand-offs per query, each costing
more than SQLite's own work (a read by primary key takes about 10 µs). With
``DATABASE_SQLITE_INLINE`` on, the default, the calls run on the event loop instead and the
thread only opens and closes the connection. The price: a query holds up the worker's other
requests for as long as it runs, so turn it off if the service runs long queries (reports, big
scans) and its other requests must not wait for them. Called in process, a GET by id took
1.3-1.4 ms of CPU with the thread and 0.8 ms on the loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState

from .config import ENV_PREFIX, DatabaseSettings, StartupError

T = TypeVar("T")

# SQLite's result codes (https://sqlite.org/rescode.html) for a database that is busy or
# locked by another connection, cannot be opened, read or written, or is out of space or
# memory: an outage, to be waited out. Its other errors (no such table or column, a syntax
# error) say that the code or the schema is wrong.
OUTAGE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)

PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    # Read the file's pages where the OS caches them, shared by every worker, rather than copy
    # them into each connection's own 2 MB cache, which a table soon outgrows and which is
    # emptied whenever another process writes: then every COUNT(*) or scan reads the whole
    # table again. A count over 100,000 rows: ~2,300 µs without, ~90 µs with (~400 µs
    # after another process's write). 1 GiB is address space, not memory; beyond it, reads
    # go through the small cache again.
    "PRAGMA mmap_size=1073741824",
)


class SQLiteConnection(aiosqlite.Connection):
    """An aiosqlite connection that, when it cannot open the database, waits for its thread to
    stop. aiosqlite does not wait, and a thread that stops after the event loop has closed
    (``make migrate`` with a bad URL) fails on it and writes a second traceback."""

    async def _connect(self) -> aiosqlite.Connection:
        try:
            return await super()._connect()
        except BaseException:
            self._thread.join()  # at once: all it has left to do is stop
            raise


class InlineConnection(SQLiteConnection):
    """An aiosqlite connection that makes its calls on the event loop, not in its thread."""

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def create_sqlite_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An async engine for the SQLite database at ``settings.database_url``."""
    url = make_url(settings.database_url)
    pool: dict[str, Any] = {}
    if url.database and url.database != ":memory:":
        _make_folder(Path(url.database).parent)
        # SQLite lets one writer in at a time and a worker runs on one core: one connection
        # per process queues requests fairly in the pool, where several would race for the
        # write lock and sleep in SQLite's busy handler (a POST p99 of ~1 s at 50 connections,
        # against ~100 ms). Processes still share the file through busy_timeout.
        pool = {
            "pool_size": 1,
            "max_overflow": 0,
            "pool_timeout": settings.database_timeout_seconds,
        }
    # An in-memory database (sqlite://) is one connection that every session shares (a
    # StaticPool): nothing to wait for.
    engine = create_async_engine(
        url,
        # The session has already rolled back whatever it began when it gives the connection
        # back; the pool rolls back again only if SQLite says a transaction is still open
        # (rollback_if_open below), and a read-only request makes one call to SQLite fewer.
        pool_reset_on_return=None,
        **pool,
    )
    # Another process's write lock is waited for as long as a connection from the pool.
    busy_timeout = f"PRAGMA busy_timeout={round(settings.database_timeout_seconds * 1000)}"

    @event.listens_for(engine.sync_engine, "connect")
    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in (*PRAGMAS, busy_timeout):
            cursor.execute(pragma)
        cursor.close()

    event.listen(engine.sync_engine, "reset", rollback_if_open)
    connection_class = InlineConnection if settings.database_sqlite_inline else SQLiteConnection

    @event.listens_for(engine.sync_engine, "do_connect")
    def use_connection_class(
        _dialect: Any, _record: Any, _args: list[Any], params: dict[str, Any]
    ) -> None:
        # SQLAlchemy's aiosqlite adapter calls this instead of aiosqlite.connect, with its
        # usual arguments (the file name, check_same_thread=False, ...).
        params["async_creator_fn"] = partial(_connect, connection_class)

    return engine


def _make_folder(folder: Path) -> None:
    """Make the database file's folder, or say which setting names one that cannot be made."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StartupError(
            f"Cannot make {folder}, the folder of {ENV_PREFIX}DATABASE_URL's file: "
            f"{error.strerror or error}"
        ) from error


def is_outage(error: BaseException | None) -> bool:
    """Whether SQLite's ``error`` says the database is unavailable rather than the SQL wrong."""
    code = getattr(error, "sqlite_errorcode", None)
    # An extended code (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_READ, ...) holds its primary code
    # in its low byte.
    return code is not None and code & 0xFF in OUTAGE_CODES


def rollback_if_open(dbapi_connection: Any, record: Any, reset_state: PoolResetState) -> None:
    """The pool's reset of a connection it takes back: a rollback, when there is anything to
    roll back (a connection being thrown away needs none)."""
    if not reset_state.terminate_only and record.driver_connection.in_transaction:
        dbapi_connection.rollback()


def _connect(
    connection_class: type[SQLiteConnection], database: str, **kwargs: Any
) -> SQLiteConnection:
    """What ``aiosqlite.connect`` does, with one of the connection classes above."""
    # Opened in aiosqlite's thread, used on the event loop's when inline. SQLAlchemy says so
    # for a file, not for an in-memory database (which it serves from one connection).
    kwargs["check_same_thread"] = False
    return connection_class(partial(sqlite3.connect, database, **kwargs), iter_chunk_size=64)
