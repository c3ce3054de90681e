"""How responses become JSON: pydantic's serializer, in one pass and in Rust."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from quart.json.provider import DefaultJSONProvider


class JSONProvider(DefaultJSONProvider):
    """Models, timestamps (ISO 8601, where Quart's default writes HTTP dates) and every other
    type pydantic knows, straight to JSON text."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return to_json(obj).decode()
