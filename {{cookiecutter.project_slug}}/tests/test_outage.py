"""The database goes away and comes back: 503s meanwhile (never a 500 or a hang), then recovery
without a restart."""

from __future__ import annotations

import asyncio
{%- if cookiecutter.database == "postgresql" %}
import logging
{%- endif %}
import time
{%- if cookiecutter.database == "sqlite" %}
from pathlib import Path
{%- endif %}
from typing import Any

import pytest
from quart import Quart
{%- if cookiecutter.database == "postgresql" %}
from quart.testing import QuartClient
from sqlalchemy import make_url, text
{%- endif %}

from {{ cookiecutter.package_name }}.app import create_app
{%- if cookiecutter.database == "postgresql" %}
from {{ cookiecutter.package_name }}.blueprints import items
{%- endif %}
from {{ cookiecutter.package_name }}.blueprints.health import READINESS_TIMEOUT_SECONDS
from {{ cookiecutter.package_name }}.config import Settings
{%- if cookiecutter.database == "postgresql" %}
from {{ cookiecutter.package_name }}.db import get_session
from {{ cookiecutter.package_name }}.models import Item
{%- endif %}

from .conftest import authorization, empty_tables_of, make_settings{% if cookiecutter.database == "postgresql" %}, started_app{% endif %}

ITEMS = "/api/v1/items"
# A 503 must come this fast: the readiness timeout, plus slack for a busy machine.
PROMPT_SECONDS = READINESS_TIMEOUT_SECONDS + 1.0
{%- if cookiecutter.database == "postgresql" %}


class Outage:
    """A TCP proxy in front of PostgreSQL that the test can cut and restore.

    ``down()`` closes the listening socket and every open connection (as a failed server or
    network would), ``stall()`` accepts connections and never answers (as a hung server or a
    black-holed network would), and ``up()`` relays to PostgreSQL again on the same port.
    """

    def __init__(self, target: str) -> None:
        url = make_url(target)
        self.target = (url.host or "127.0.0.1", url.port or 5432)
        self.server: asyncio.Server | None = None
        self.port = 0
        self.connections: set[asyncio.StreamWriter] = set()
        self.url = target

    async def up(self) -> None:
        await self._listen(self._relay)

    async def stall(self) -> None:
        await self.down()
        await self._listen(self._hold)

    async def _listen(self, handler: Any) -> None:
        self.server = await asyncio.start_server(handler, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = (
            make_url(self.url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    async def down(self) -> None:
        # Connections first: since Python 3.12, wait_closed() waits for them to end.
        for writer in list(self.connections):
            writer.transport.abort()
        self.connections.clear()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _hold(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.add(writer)

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        server_in, server_out = await asyncio.open_connection(*self.target)
        self.connections |= {client_out, server_out}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.transport.abort()
                self.connections.discard(writer)

        await asyncio.gather(pipe(client_in, server_out), pipe(server_in, client_out))


@pytest.fixture
async def outage(database_url: str) -> Any:
    proxy = Outage(database_url)
    await proxy.up()
    yield proxy
    await proxy.down()


def outage_settings(outage: Outage) -> Settings:
    return make_settings(outage.url, database_timeout_seconds=1.0)
{%- else %}


class Outage:
    """The SQLite file cannot be opened (its path is taken by a folder, as when its volume is
    not mounted) until ``up()`` clears the way."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "outage.db"
        self.url = f"sqlite+aiosqlite:///{self.path}"

    async def up(self) -> None:
        self.path.rmdir()

    async def down(self) -> None:
        self.path.mkdir()


@pytest.fixture
async def outage(tmp_path: Path) -> Outage:
    return Outage(tmp_path)


def outage_settings(outage: Outage) -> Settings:
    return make_settings(outage.url, database_timeout_seconds=1.0)
{%- endif %}


async def timed_get(app: Quart, path: str, headers: dict[str, str]) -> tuple[Any, float]:
    started = time.monotonic()
    response = await app.test_client().get(path, headers=headers)
    return response, time.monotonic() - started


async def assert_unavailable(app: Quart, headers: dict[str, str]) -> None:
    response, elapsed = await timed_get(app, "/readyz", headers)
    assert response.status_code == 503
    assert elapsed < PROMPT_SECONDS

    response, elapsed = await timed_get(app, ITEMS, headers)
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.headers["Retry-After"]
    body = await response.get_data(as_text=True)
    assert "Traceback" not in body
    assert "sqlalchemy" not in body.lower()
    assert elapsed < PROMPT_SECONDS

    created = await app.test_client().post(ITEMS, json={"name": "lost?"}, headers=headers)
    assert created.status_code == 503


async def wait_until_ready(app: Quart) -> float:
    """Seconds until /readyz answers 200 again (printed: pytest -s shows it)."""
    started = time.monotonic()
    while (await app.test_client().get("/readyz")).status_code != 200:
        assert time.monotonic() - started < 30, "the service did not recover"
        await asyncio.sleep(0.01)
    recovered = time.monotonic() - started
    print(f"recovered {recovered:.3f} s after the database came back")
    return recovered


async def test_a_database_down_at_startup_gives_503s_until_it_comes_up(outage: Outage) -> None:
    await outage.down()
    settings = outage_settings(outage)
    headers = authorization(settings)
    app = create_app(settings)
    async with app.test_app():
        await assert_unavailable(app, headers)

        await outage.up()
        await empty_tables_of(settings)
        await wait_until_ready(app)

        created = await app.test_client().post(ITEMS, json={"name": "after"}, headers=headers)
        assert created.status_code == 201
        listed = await (await app.test_client().get(ITEMS, headers=headers)).get_json()
        assert [item["name"] for item in listed["items"]] == ["after"]
{%- if cookiecutter.database == "postgresql" %}


async def test_a_database_lost_while_serving_gives_503s_then_recovers(outage: Outage) -> None:
    settings = outage_settings(outage)
    headers = authorization(settings)
    async with started_app(settings) as app:
        client = app.test_client()
        before = await client.post(ITEMS, json={"name": "before"}, headers=headers)
        assert before.status_code == 201

        await outage.down()
        await assert_unavailable(app, headers)

        await outage.up()
        await wait_until_ready(app)

        listed = await (await client.get(ITEMS, headers=headers)).get_json()
        assert [item["name"] for item in listed["items"]] == ["before"]


async def test_a_database_that_stops_answering_gives_503s_not_hangs(outage: Outage) -> None:
    settings = outage_settings(outage)
    headers = authorization(settings)
    async with started_app(settings) as app:
        await outage.stall()
        await assert_unavailable(app, headers)

        await outage.down()
        await outage.up()
        await wait_until_ready(app)
        assert (await app.test_client().get(ITEMS, headers=headers)).status_code == 200


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"database": "no_such_database"}, 'database "no_such_database" does not exist'),
        ({"username": "no_such_role"}, 'role "no_such_role" does not exist'),
    ],
    ids=["database", "role"],
)
async def test_a_server_that_turns_the_service_away_gives_503s_and_says_why(
    settings: Settings, change: dict[str, Any], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(settings.database_url).set(**change).render_as_string(hide_password=False)
    app = create_app(settings.model_copy(update={"database_url": url}))
    async with app.test_app():
        with caplog.at_level(logging.WARNING):
            await assert_unavailable(app, authorization(settings))
    assert reason in caplog.text


@pytest.mark.parametrize("mode", ["disable", "prefer"])
async def test_a_url_with_libpq_sslmode_connects(settings: Settings, mode: str) -> None:
    # The test server has no TLS: "prefer" falls back to a plain connection, as libpq does.
    url = make_url(settings.database_url).update_query_dict({"sslmode": mode})
    with_sslmode = make_settings(url.render_as_string(hide_password=False))
    app = create_app(with_sslmode)
    async with app.test_app():
        response = await app.test_client().get(ITEMS, headers=authorization(with_sslmode))
        assert response.status_code == 200


async def test_a_session_the_server_ends_mid_request_is_a_503_then_recovers(
    client: QuartClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await (await client.post(ITEMS, json={"name": "kept"})).get_json()
    read = items._get_item

    async def end_this_session_then_read(item_id: int) -> Item:
        # As a restart, a failover or pg_terminate_backend does: the server ends the session.
        monkeypatch.setattr(items, "_get_item", read)
        await get_session().execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return await read(item_id)

    monkeypatch.setattr(items, "_get_item", end_this_session_then_read)
    url = f"{ITEMS}/{created['id']}"
    response = await client.patch(url, json={"name": "renamed"})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert (await client.get(url)).status_code == 200
{%- endif %}
