from __future__ import annotations

import logging
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.db import get_database

from .conftest import drop_schema, migrate, unmigrate


async def readiness(app: Quart) -> tuple[int, Any]:
    response = await app.test_client().get("/readyz")
    return response.status_code, await response.get_json()


async def test_liveness_answers_ok(client: QuartClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}


async def test_readiness_answers_ok_when_the_database_is_up(app: Quart) -> None:
    assert await readiness(app) == (200, {"status": "ok"})


async def test_readiness_answers_503_when_the_database_is_down(
    settings: Settings, unreachable_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings.model_copy(update={"database_url": unreachable_database_url}))
    with caplog.at_level(logging.WARNING):
        async with app.test_app():
            assert await readiness(app) == (503, {"status": "unavailable"})

    # Probes come every few seconds: one line each, with the cause, and no traceback.
    [record] = [r for r in caplog.records if r.name.endswith(".health")]
    assert record.getMessage().startswith("Readiness check failed: the database is unreachable: ")
    assert "\n" not in record.getMessage()
    assert record.exc_info is None


async def test_readiness_answers_503_until_the_migrations_have_run(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)
    async with app.test_app():
        async with app.app_context():
            await drop_schema(get_database().engine)

        with caplog.at_level(logging.WARNING):
            assert await readiness(app) == (503, {"status": "unmigrated"})
        assert "run the migrations (alembic upgrade head)" in caplog.text

        await migrate(settings.database_url)
        assert await readiness(app) == (200, {"status": "ok"})

        # Undone: Alembic's table is still there, but records no revision.
        await unmigrate(settings.database_url)
        assert await readiness(app) == (503, {"status": "unmigrated"})
