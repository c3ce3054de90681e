"""The API, version 1: one parent blueprint for every resource's blueprint.

What applies to the whole API and nothing else (rate limits, say) hangs off this blueprint's
name, so health checks and the OpenAPI document pay nothing for it.
"""

from __future__ import annotations

from quart import Blueprint

from . import API_PREFIX, items

blueprint = Blueprint("api", __name__, url_prefix=f"{API_PREFIX}v1")
blueprint.register_blueprint(items.blueprint, url_prefix="/items")
