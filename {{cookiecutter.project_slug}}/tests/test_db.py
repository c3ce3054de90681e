"""The database lifecycle: engine per serving app, session per request, rollback on error."""

from __future__ import annotations

from quart import Quart, g
from quart.testing import QuartClient
from sqlalchemy import func, select

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.db import EXTENSION_KEY, get_session
from {{ cookiecutter.package_name }}.models import Item


async def count_items(app: Quart) -> int:
    async with app.app_context(), app.extensions[EXTENSION_KEY].sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Item)) or 0)


async def test_engine_exists_only_while_serving(settings: Settings) -> None:
    app = create_app(settings)
    assert EXTENSION_KEY not in app.extensions
    async with app.test_app():
        assert EXTENSION_KEY in app.extensions
    assert EXTENSION_KEY not in app.extensions


async def test_a_failed_request_rolls_back_its_writes(app: Quart) -> None:
    @app.post("/half-done")
    async def half_done() -> str:
        session = get_session()
        session.add(Item(name="never stored"))
        await session.flush()
        raise RuntimeError("failed after writing")

    response = await app.test_client().post("/half-done")

    assert response.status_code == 500
    assert await count_items(app) == 0


async def test_each_request_gets_its_own_session_closed_afterwards(app: Quart) -> None:
    seen = []

    @app.get("/session")
    async def session_id() -> str:
        session = get_session()
        assert get_session() is session
        seen.append(session)
        # Begins a transaction on a connection from the pool, which only closing gives back.
        await session.execute(select(1))
        assert session.in_transaction()
        return "ok"

    client = app.test_client()
    await client.get("/session")
    await client.get("/session")

    assert len(seen) == 2
    assert seen[0] is not seen[1]
    assert not any(session.in_transaction() for session in seen)


async def test_liveness_opens_no_session(app: Quart, client: QuartClient) -> None:
    opened = []

    @app.after_request
    async def record(response: object) -> object:
        opened.append("db_session" in g)
        return response

    await client.get("/healthz")
    await client.get("/api/v1/items")

    assert opened == [False, True]
