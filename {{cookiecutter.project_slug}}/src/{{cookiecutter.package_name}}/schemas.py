"""Request and response bodies of the API, as pydantic models (they also make the OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema


def _no_nul(text: str) -> str:
    """Reject NUL, which text columns cannot hold (PostgreSQL refuses it). Lone surrogates,
    the other text no column holds, pydantic refuses itself."""
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    return text


# The OpenAPI document says "no NUL" as a pattern, so that clients (and fuzzers) know;
# _no_nul checks it, with a message a person can read.
NO_NUL = {"pattern": r"^[^\x00]*$"}
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra=NO_NUL),
    AfterValidator(_no_nul),
]
Description = Annotated[
    str, Field(max_length=2000, json_schema_extra=NO_NUL), AfterValidator(_no_nul)
]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description | None = None


class ItemUpdate(BaseModel):
    """A partial update: only the fields present in the body change."""

    model_config = ConfigDict(extra="forbid")

    # Absent means "unchanged"; the schema shows that name, if sent, is a string.
    name: Name | SkipJsonSchema[None] = None
    description: Description | None = None

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, name: str | None) -> str:
        if name is None:
            raise ValueError("name cannot be null")
        return name


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime


# Ids are 32-bit on every database: a larger one cannot exist, and must not reach the driver.
MAX_ID = 2**31 - 1


class Page(BaseModel):
    """Which page of a list: up to ``limit`` items whose ids come after ``after``.

    Pages are found by id (keyset pagination), not counted off (OFFSET): a page costs the
    same wherever it is in the table, and rows added or removed meanwhile never make a page
    repeat or skip one.
    """

    # A misspelt parameter (?limt=5) is an error, not silently the default.
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=100)
    # Bounded like ids, so every database takes it.
    after: int = Field(default=0, ge=0, le=MAX_ID, description="Only items with a larger id.")


class ItemPage(BaseModel):
    items: list[ItemOut]
    limit: int
    next: str | None = Field(description="The URL of the next page; null on the last one.")
