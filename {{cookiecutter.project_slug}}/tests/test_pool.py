"""A worker's PostgreSQL connections: bounded, and kept once opened."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.db import create_engine

from .conftest import make_settings


async def query_at_once(engine: AsyncEngine, count: int) -> None:
    """``count`` queries at the same time, each on a connection of its own from the pool."""

    async def query() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    await asyncio.gather(*(query() for _ in range(count)))


async def test_a_worker_opens_at_most_pool_size_plus_overflow_connections(
    database_url: str,
) -> None:
    settings = make_settings(
        database_url,
        database_pool_size=1,
        database_max_overflow=1,
        database_timeout_seconds=0.2,
    )
    engine = create_engine(settings)
    try:
        async with engine.connect(), engine.connect():
            with pytest.raises(PoolTimeoutError):
                async with engine.connect():
                    pass
    finally:
        await engine.dispose()


async def test_a_busy_worker_keeps_the_connections_it_opened(database_url: str) -> None:
    # A connection beyond the pool size is closed as soon as it is returned, so a worker with
    # an overflow opens and closes connections one after another under steady load.
    settings = make_settings(database_url)
    engine = create_engine(settings)
    opened = 0

    def count_opened(*_args: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", count_opened)
    try:
        for _ in range(3):
            await query_at_once(engine, settings.database_pool_size + 5)
    finally:
        await engine.dispose()
    assert opened == settings.database_pool_size
