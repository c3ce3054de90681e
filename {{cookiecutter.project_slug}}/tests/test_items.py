from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from quart.testing import QuartClient

from .conftest import LiveServer, authorization

ITEMS = "/api/v1/items"


async def create(client: QuartClient, **body: Any) -> dict[str, Any]:
    response = await client.post(ITEMS, json=body)
    assert response.status_code == 201, await response.get_data(as_text=True)
    created: dict[str, Any] = await response.get_json()
    return created


def parse_utc(timestamp: str) -> datetime:
    parsed = datetime.fromisoformat(timestamp)
    assert parsed.utcoffset() == UTC.utcoffset(None)
    return parsed


async def test_create_returns_the_item_and_its_location(client: QuartClient) -> None:
    before = datetime.now(UTC)
    response = await client.post(ITEMS, json={"name": "Widget", "description": "A small part"})

    assert response.status_code == 201
    body = await response.get_json()
    assert response.headers["Location"] == f"{ITEMS}/{body['id']}"
    assert set(body) == {"id", "name", "description", "created_at", "updated_at"}
    assert body["name"] == "Widget"
    assert body["description"] == "A small part"
    assert parse_utc(body["created_at"]) >= before
    assert body["created_at"] == body["updated_at"]


async def test_description_is_optional(client: QuartClient) -> None:
    item = await create(client, name="Bare")
    assert item["description"] is None


async def test_created_item_can_be_read_back(client: QuartClient) -> None:
    item = await create(client, name="Widget", description=None)

    response = await client.get(f"{ITEMS}/{item['id']}")

    assert response.status_code == 200
    assert await response.get_json() == item


async def test_list_pages_through_every_item_in_id_order(client: QuartClient) -> None:
    created = [await create(client, name=f"item {n}") for n in range(5)]

    response = await client.get(ITEMS, query_string={"limit": 2})
    assert response.status_code == 200
    first = await response.get_json()
    second = await (await client.get(first["next"])).get_json()
    third = await (await client.get(second["next"])).get_json()

    assert first["limit"] == second["limit"] == third["limit"] == 2
    assert first["items"] + second["items"] + third["items"] == created
    assert first["next"] == f"{ITEMS}?limit=2&after={created[1]['id']}"
    assert third["next"] is None


async def test_a_page_starts_after_the_given_id(client: QuartClient) -> None:
    created = [await create(client, name=f"item {n}") for n in range(3)]

    page = await (await client.get(ITEMS, query_string={"after": created[0]["id"]})).get_json()

    assert page["items"] == created[1:]
    assert page["next"] is None


async def test_pages_neither_repeat_nor_skip_when_items_are_deleted(client: QuartClient) -> None:
    created = [await create(client, name=f"item {n}") for n in range(4)]
    first = await (await client.get(ITEMS, query_string={"limit": 2})).get_json()

    assert (await client.delete(f"{ITEMS}/{created[0]['id']}")).status_code == 204
    second = await (await client.get(first["next"])).get_json()

    assert second["items"] == created[2:]


async def test_list_defaults_to_twenty_items(client: QuartClient) -> None:
    created = [await create(client, name=f"item {n}") for n in range(21)]

    page = await (await client.get(ITEMS)).get_json()

    assert page["limit"] == 20
    assert page["items"] == created[:20]
    assert page["next"] == f"{ITEMS}?limit=20&after={created[19]['id']}"


async def test_a_full_last_page_has_no_next(client: QuartClient) -> None:
    created = [await create(client, name=f"item {n}") for n in range(2)]

    page = await (await client.get(ITEMS, query_string={"limit": 2})).get_json()

    assert page["items"] == created
    assert page["next"] is None


async def test_list_of_nothing_is_empty(client: QuartClient) -> None:
    page = await (await client.get(ITEMS)).get_json()
    assert page == {"items": [], "limit": 20, "next": None}


@pytest.mark.parametrize("limit", [1, 100])
async def test_list_accepts_limits_at_the_bounds(client: QuartClient, limit: int) -> None:
    response = await client.get(ITEMS, query_string={"limit": limit})
    assert response.status_code == 200
    assert (await response.get_json())["limit"] == limit


async def test_patch_changes_only_the_given_fields(client: QuartClient) -> None:
    item = await create(client, name="Widget", description="A small part")

    response = await client.patch(f"{ITEMS}/{item['id']}", json={"name": "Gadget"})

    assert response.status_code == 200
    updated = await response.get_json()
    assert updated["name"] == "Gadget"
    assert updated["description"] == "A small part"
    assert updated["created_at"] == item["created_at"]
    assert parse_utc(updated["updated_at"]) > parse_utc(item["updated_at"])
    assert await (await client.get(f"{ITEMS}/{item['id']}")).get_json() == updated


async def test_patch_can_clear_the_description(client: QuartClient) -> None:
    item = await create(client, name="Widget", description="A small part")

    response = await client.patch(f"{ITEMS}/{item['id']}", json={"description": None})

    assert response.status_code == 200
    assert (await response.get_json())["description"] is None


async def test_delete_removes_the_item(client: QuartClient) -> None:
    item = await create(client, name="Widget")

    response = await client.delete(f"{ITEMS}/{item['id']}")

    assert response.status_code == 204
    assert await response.get_data() == b""
    assert (await client.get(f"{ITEMS}/{item['id']}")).status_code == 404
    assert (await (await client.get(ITEMS)).get_json())["items"] == []


async def test_a_deleted_items_id_is_never_given_to_another(client: QuartClient) -> None:
    await create(client, name="kept")
    newest = await create(client, name="newest")
    assert (await client.delete(f"{ITEMS}/{newest['id']}")).status_code == 204

    created = await create(client, name="created after the delete")

    assert created["id"] > newest["id"]
    assert (await client.get(f"{ITEMS}/{newest['id']}")).status_code == 404
    # A client that had paged up to the deleted item finds the new one on its next page.
    later = await client.get(ITEMS, query_string={"after": newest["id"]})
    assert (await later.get_json())["items"] == [created]


def test_a_deletion_over_http_sends_no_body_headers(live_server: LiveServer) -> None:
    # Over a real server: the test client would add the headers back to what it receives.
    headers = authorization(live_server.settings)
    with httpx.Client(base_url=live_server.url, headers=headers) as http:
        location = http.post(ITEMS, json={"name": "Widget"}).headers["Location"]

        response = http.delete(location)

        assert response.status_code == 204
        assert "content-type" not in response.headers
        assert "content-length" not in response.headers
        assert response.content == b""
        assert http.get(location).status_code == 404


async def test_text_round_trips_unchanged(client: QuartClient) -> None:
    text = 'Zoë\'s "quoted" \\ back\\slash\nnew line, 日本語, emoji 🚀, {braces}'
    item = await create(client, name=text[:200], description=text)

    stored = await (await client.get(f"{ITEMS}/{item['id']}")).get_json()

    assert stored["name"] == text[:200]
    assert stored["description"] == text
