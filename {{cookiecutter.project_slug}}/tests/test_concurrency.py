"""Many requests at once: no write is lost, no row is torn, no request fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from quart import Quart
from quart.testing import QuartClient
from sqlalchemy import Executable, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.blueprints import items
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.db import create_engine, get_database, get_session
from {{ cookiecutter.package_name }}.models import Item

ITEMS = "/api/v1/items"
WRITERS = 200


async def test_concurrent_creates_lose_no_write(app: Quart, client: QuartClient) -> None:
    responses = await asyncio.gather(
        *(client.post(ITEMS, json={"name": f"item {number}"}) for number in range(WRITERS))
    )

    assert [response.status_code for response in responses] == [201] * WRITERS
    ids = {(await response.get_json())["id"] for response in responses}
    assert len(ids) == WRITERS
    async with app.app_context(), get_database().sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Item)) == WRITERS
        names = set(await session.scalars(select(Item.name)))
    assert names == {f"item {number}" for number in range(WRITERS)}


async def test_concurrent_updates_of_one_item_never_tear_it(client: QuartClient) -> None:
    created = await (await client.post(ITEMS, json={"name": "start"})).get_json()
    url = f"{ITEMS}/{created['id']}"

    responses = await asyncio.gather(
        *(
            client.patch(url, json={"name": f"name {number}", "description": f"text {number}"})
            for number in range(WRITERS // 2)
        )
    )

    assert [response.status_code for response in responses] == [200] * (WRITERS // 2)
    final = await (await client.get(url)).get_json()
    # Both fields come from the same update, whichever won.
    assert final["name"].removeprefix("name ") == final["description"].removeprefix("text ")
    assert final["updated_at"] >= created["updated_at"]


async def write_elsewhere(settings: Settings, statement: Executable) -> None:
    """Run ``statement`` as another request would: on a connection of its own, committed."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(statement)
    finally:
        await engine.dispose()


def write_between_read_and_commit(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, write: Callable[[int], Executable]
) -> None:
    """Make the next PATCH's row change, as another request would, after the PATCH has read
    it and before it commits."""
    read = items._get_item

    async def read_then_write_elsewhere(item_id: int) -> Item:
        item = await read(item_id)
        await write_elsewhere(settings, write(item_id))
        return item

    monkeypatch.setattr(items, "_get_item", read_then_write_elsewhere)


async def test_a_patch_answers_the_item_as_stored_with_what_others_changed_meanwhile(
    client: QuartClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = await client.post(ITEMS, json={"name": "old", "description": "old"})
    created = await response.get_json()
    write_between_read_and_commit(
        monkeypatch,
        settings,
        lambda item_id: update(Item).where(Item.id == item_id).values(description="theirs"),
    )
    url = f"{ITEMS}/{created['id']}"
    response = await client.patch(url, json={"name": "mine"})

    assert response.status_code == 200
    answered = await response.get_json()
    assert (answered["name"], answered["description"]) == ("mine", "theirs")
    assert answered == await (await client.get(url)).get_json()


async def test_an_item_deleted_while_it_is_updated_is_a_404(
    client: QuartClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await (await client.post(ITEMS, json={"name": "doomed"})).get_json()
    write_between_read_and_commit(
        monkeypatch, settings, lambda item_id: delete(Item).where(Item.id == item_id)
    )
    response = await client.patch(f"{ITEMS}/{created['id']}", json={"name": "renamed"})

    assert response.status_code == 404
    assert (await response.get_json())["detail"] == f"Item {created['id']} does not exist."


async def test_an_item_deleted_after_a_patch_wrote_it_is_a_404(
    client: QuartClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await (await client.post(ITEMS, json={"name": "doomed"})).get_json()

    def session_deleting_after_commit() -> AsyncSession:
        session = get_session()
        commit = session.commit

        async def commit_then_delete_elsewhere() -> None:
            await commit()
            await write_elsewhere(settings, delete(Item).where(Item.id == created["id"]))

        monkeypatch.setattr(session, "commit", commit_then_delete_elsewhere)
        return session

    monkeypatch.setattr(items, "get_session", session_deleting_after_commit)
    response = await client.patch(f"{ITEMS}/{created['id']}", json={"name": "renamed"})

    assert response.status_code == 404
    assert (await response.get_json())["detail"] == f"Item {created['id']} does not exist."
