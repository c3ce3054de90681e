"""The framework's floor: the smallest Quart app, one JSON route and nothing else.

Serve it like the service, e.g. ``hypercorn quart_hello:app`` from this folder.
"""

from __future__ import annotations

from quart import Quart

app = Quart(__name__)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
