"""How responses become JSON."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_jsonable_python
from quart.json.provider import DefaultJSONProvider


class JSONProvider(DefaultJSONProvider):
    """Timestamps as ISO 8601 (Quart's default writes HTTP dates), and pydantic's types."""

    @staticmethod
    def default(value: Any) -> Any:
        return to_jsonable_python(value)
