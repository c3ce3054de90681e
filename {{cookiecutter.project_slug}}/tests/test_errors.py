"""Every error is a problem+json document with a useful detail, never a 500 or a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from {{ cookiecutter.package_name }}.db import get_session

ITEMS = "/api/v1/items"
PROBLEM_JSON = "application/problem+json"


async def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.content_type == PROBLEM_JSON
    body: dict[str, Any] = await response.get_json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"]
    assert body["detail"]
    return body


async def test_malformed_json_is_a_400(client: QuartClient) -> None:
    response = await client.post(
        ITEMS, data='{"name": ', headers={"Content-Type": "application/json"}
    )
    body = await problem_of(response, 400)
    assert "not valid JSON" in body["detail"]


async def test_a_body_that_is_not_utf8_is_a_400(client: QuartClient) -> None:
    response = await client.post(
        ITEMS, data=b'{"name": "\xe6\x39"}', headers={"Content-Type": "application/json"}
    )
    body = await problem_of(response, 400)
    assert "UTF-8" in body["detail"]


async def test_json_nested_too_deeply_is_a_400(client: QuartClient) -> None:
    # ~20 KB, far under the body limit, but deeper than Python's parser recurses.
    nested = "[" * 10_000 + "]" * 10_000
    response = await client.post(ITEMS, data=nested, headers={"Content-Type": "application/json"})
    body = await problem_of(response, 400)
    assert "nested too deeply" in body["detail"]


async def test_a_body_that_is_not_json_is_a_415(client: QuartClient) -> None:
    response = await client.post(ITEMS, data="name=x", headers={"Content-Type": "text/plain"})
    body = await problem_of(response, 415)
    assert "application/json" in body["detail"]


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({}, "#/name"),
        ({"name": ""}, "#/name"),
        ({"name": "x" * 201}, "#/name"),
        ({"name": 5}, "#/name"),
        ({"name": ["a"]}, "#/name"),
        ({"name": "ok", "description": "x" * 2001}, "#/description"),
        ({"name": "ok", "description": 3}, "#/description"),
        ({"name": "nul\u0000byte"}, "#/name"),
        ({"name": "ok", "colour": "red"}, "#/colour"),
    ],
)
async def test_invalid_items_are_rejected_field_by_field(
    client: QuartClient, payload: dict[str, Any], pointer: str
) -> None:
    body = await problem_of(await client.post(ITEMS, json=payload), 422)
    assert pointer in [error["pointer"] for error in body["errors"]]
    assert (await (await client.get(ITEMS)).get_json())["items"] == []


@pytest.mark.parametrize("payload", [[], "text", 3, None])
async def test_a_body_that_is_not_an_object_is_rejected(client: QuartClient, payload: Any) -> None:
    body = await problem_of(await client.post(ITEMS, json=payload), 422)
    assert [error["pointer"] for error in body["errors"]] == ["#"]  # the whole body


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("nul\u0000byte", "text must not contain NUL characters"),
        ("lone \ud800 surrogate", "Input should be a valid string, unable to parse raw data"),
    ],
)
async def test_text_no_column_can_hold_is_rejected_in_words(
    client: QuartClient, text: str, detail: str
) -> None:
    body = await problem_of(await client.post(ITEMS, json={"name": text}), 422)
    [error] = body["errors"]
    assert error["pointer"] == "#/name"
    assert error["detail"].startswith(detail)


async def test_pointers_escape_what_json_pointer_reserves(client: QuartClient) -> None:
    body = await problem_of(await client.post(ITEMS, json={"name": "ok", "a/b~c": 1}), 422)
    assert [error["pointer"] for error in body["errors"]] == ["#/a~1b~0c"]


async def test_patch_cannot_null_the_name(client: QuartClient) -> None:
    created = await (await client.post(ITEMS, json={"name": "Widget"})).get_json()
    response = await client.patch(f"{ITEMS}/{created['id']}", json={"name": None})
    body = await problem_of(response, 422)
    assert body["errors"][0]["pointer"] == "#/name"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"after": "-1"}, "after"),
        ({"after": str(2**31)}, "after"),
        ({"offset": "20"}, "offset"),
    ],
)
async def test_invalid_pagination_is_rejected(
    client: QuartClient, query: dict[str, str], parameter: str
) -> None:
    body = await problem_of(await client.get(ITEMS, query_string=query), 422)
    assert body["errors"][0]["parameter"] == parameter


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("item_id", [12345, 2**31, 10**30])
async def test_unknown_items_are_404(client: QuartClient, method: str, item_id: int) -> None:
    response = await client.open(f"{ITEMS}/{item_id}", method=method, json={"name": "x"})
    body = await problem_of(response, 404)
    if item_id == 12345:
        assert body["detail"] == "Item 12345 does not exist."


async def test_unknown_paths_are_404(client: QuartClient) -> None:
    body = await problem_of(await client.get("/nowhere"), 404)
    assert body["detail"] == "Nothing is at this URL."


async def test_wrong_methods_are_405_with_allow(client: QuartClient) -> None:
    response = await client.put(ITEMS, json={"name": "x"})
    await problem_of(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


async def test_oversized_bodies_are_413(client: QuartClient) -> None:
    huge = {"name": "x", "description": "y" * (2 * 1024 * 1024)}
    response = await client.post(ITEMS, json=huge)
    body = await problem_of(response, 413)
    limit = "1,048,576 bytes"
    assert body["detail"] == f"The request body is larger than the {limit} this service accepts."
    # What was not read of the body must not be taken for another request.
    assert response.headers["Connection"] == "close"


def constraint_broken(message: str) -> IntegrityError:
    """A database error on a healthy connection: a bug, not an outage."""
    return IntegrityError("INSERT INTO items (name) VALUES (?)", None, Exception(message))


async def test_a_database_error_that_lost_its_connection_is_a_503(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/cut-off")
    async def cut_off() -> str:
        # What SQLAlchemy raises when the server ends the session mid-statement.
        raise DBAPIError("SELECT 1", None, Exception("server closed"), connection_invalidated=True)

    with caplog.at_level(logging.WARNING):
        response = await app.test_client().get("/cut-off")

    body = await problem_of(response, 503)
    assert body["detail"] == "The database is unavailable; try again shortly."
    assert response.headers["Retry-After"] == "5"
    assert "Database unavailable on GET /cut-off: DBAPIError: " in caplog.text
    assert "Traceback" not in caplog.text


async def test_a_query_the_schema_cannot_answer_is_a_500_not_an_outage(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/misspelt")
    async def misspelt() -> str:
        # A bug a release can ship: a table its migrations never made. SQLite reports it with
        # the same kind of error as a locked database.
        await get_session().execute(text("SELECT name FROM no_such_table"))
        return "never"

    with caplog.at_level(logging.ERROR):
        response = await app.test_client().get("/misspelt")

    await problem_of(response, 500)
    assert "Retry-After" not in response.headers
    assert "Unhandled error on GET /misspelt" in caplog.text
    assert "no_such_table" in caplog.text


# OSError and TimeoutError too: one from the app's own code (a file, an outbound call) is a
# bug to look into, not a database outage to wait out.
@pytest.mark.parametrize(
    "error",
    [RuntimeError, FileNotFoundError, TimeoutError, constraint_broken],
    ids=["RuntimeError", "FileNotFoundError", "TimeoutError", "IntegrityError"],
)
async def test_unhandled_errors_are_500_without_internals(
    app: Quart, caplog: pytest.LogCaptureFixture, error: Callable[[str], Exception]
) -> None:
    @app.get("/boom")
    async def boom() -> str:
        raise error("secret internal detail at /srv/app.py")

    with caplog.at_level(logging.ERROR):
        response = await app.test_client().get("/boom")

    body = await problem_of(response, 500)
    text = await response.get_data(as_text=True)
    assert "secret internal detail" not in text
    assert "Traceback" not in text
    assert body["detail"] == "The server could not complete the request."
    assert "Unhandled error on GET /boom" in caplog.text
    assert "secret internal detail" in caplog.text
