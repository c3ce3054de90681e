"""The example resource: create, list, read, update and delete items."""

from __future__ import annotations

from typing import NoReturn

from quart import Blueprint, abort, url_for
from quart_schema import (
    document_response,
    validate_querystring,
    validate_request,
    validate_response,
)
from sqlalchemy import bindparam, select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import Headers

{% if cookiecutter.auth == "jwt" -%}
from ..auth import require_scope
{% endif -%}
from ..db import get_session
from ..errors import Problem
from ..models import Item
from ..openapi import no_content
from ..schemas import MAX_ID, ItemCreate, ItemOut, ItemPage, ItemUpdate, Page

# Reads select rows from the table (SQLAlchemy Core): a response made from a row needs no ORM
# object, identity map or unit of work. Writes go through the ORM. The statements are built
# once, so SQLAlchemy finds them in its compiled cache without working out their cache keys.
ITEMS = Item.__table__
ITEM_BY_ID = select(ITEMS).where(ITEMS.c.id == bindparam("item_id"))
# A page asks for one row more than it returns: whether that row exists says whether a next
# page does, without counting the table.
ITEM_PAGE = (
    select(ITEMS)
    .where(ITEMS.c.id > bindparam("after"))
    .order_by(ITEMS.c.id)
    .limit(bindparam("rows"))
)

blueprint = Blueprint("items", __name__)


def _not_found(item_id: int) -> NoReturn:
    abort(404, f"Item {item_id} does not exist.")


async def _get_item(item_id: int) -> Item:
    item = await get_session().get(Item, item_id) if item_id <= MAX_ID else None
    if item is None:
        _not_found(item_id)
    return item


@blueprint.post("")
{%- if cookiecutter.auth == "jwt" %}
@require_scope("items:write")
{%- endif %}
@validate_request(ItemCreate)
@validate_response(ItemOut, 201)
async def create_item(data: ItemCreate) -> tuple[ItemOut, int, Headers]:
    session = get_session()
    item = Item(name=data.name, description=data.description)
    session.add(item)
    await session.commit()
    # Headers, not a dict: quart-schema would build a pydantic TypeAdapter to convert a dict.
    location = Headers({"Location": url_for(".read_item", item_id=item.id)})
    return ItemOut.model_validate(item), 201, location


@blueprint.get("")
{%- if cookiecutter.auth == "jwt" %}
@require_scope("items:read")
{%- endif %}
@validate_querystring(Page)
@validate_response(ItemPage)
async def list_items(query_args: Page) -> ItemPage:
    limit = query_args.limit
    result = await get_session().execute(ITEM_PAGE, {"after": query_args.after, "rows": limit + 1})
    rows = result.all()
    items = [ItemOut.model_validate(row) for row in rows[:limit]]
    next_page = None
    if len(rows) > limit:
        next_page = url_for(".list_items", limit=limit, after=items[-1].id)
    return ItemPage(items=items, limit=limit, next=next_page)


@blueprint.get("/<int:item_id>")
{%- if cookiecutter.auth == "jwt" %}
@require_scope("items:read")
{%- endif %}
@validate_response(ItemOut)
@document_response(Problem, 404)
async def read_item(item_id: int) -> ItemOut:
    row = None
    if item_id <= MAX_ID:
        row = (await get_session().execute(ITEM_BY_ID, {"item_id": item_id})).first()
    if row is None:
        _not_found(item_id)
    return ItemOut.model_validate(row)


@blueprint.patch("/<int:item_id>")
{%- if cookiecutter.auth == "jwt" %}
@require_scope("items:write")
{%- endif %}
@validate_request(ItemUpdate)
@validate_response(ItemOut)
@document_response(Problem, 404)
async def update_item(item_id: int, data: ItemUpdate) -> ItemOut:
    item = await _get_item(item_id)
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(item, field, value)
    session = get_session()
    try:
        await session.commit()
    except StaleDataError:
        # Another request deleted the item after this one read it: the UPDATE matched no row.
        _not_found(item_id)
    try:
        # The row as stored: another request may have changed the fields this one left alone.
        await session.refresh(item)
    except InvalidRequestError:
        # ... or deleted the row since this one wrote it.
        _not_found(item_id)
    return ItemOut.model_validate(item)


@blueprint.delete("/<int:item_id>")
@no_content
{%- if cookiecutter.auth == "jwt" %}
@require_scope("items:write")
{%- endif %}
@document_response(Problem, 404)
async def delete_item(item_id: int) -> None:
    session = get_session()
    await session.delete(await _get_item(item_id))
    await session.commit()
