from __future__ import annotations

from quart.testing import QuartClient

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.config import Settings


async def test_liveness_answers_ok(client: QuartClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}


async def test_readiness_answers_ok_when_the_database_is_up(client: QuartClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}


async def test_readiness_answers_503_when_the_database_is_down(
    settings: Settings, unreachable_database_url: str
) -> None:
    app = create_app(settings.model_copy(update={"database_url": unreachable_database_url}))
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/readyz")
    assert response.status_code == 503
    assert await response.get_json() == {"status": "unavailable"}
