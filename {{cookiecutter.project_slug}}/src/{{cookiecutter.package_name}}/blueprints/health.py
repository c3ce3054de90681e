"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import logging

from pydantic import BaseModel
from quart import Blueprint, Response
from quart_schema import document_response, validate_response
from sqlalchemy import text

from ..db import get_database

READINESS_TIMEOUT_SECONDS = 2.0
ALIVE = b'{"status":"ok"}'

blueprint = Blueprint("health", __name__)
logger = logging.getLogger(__name__)


class HealthStatus(BaseModel):
    status: str


@blueprint.get("/healthz")
@document_response(HealthStatus)
async def liveness() -> Response:
    """The process is up and serving; touches nothing else."""
    # Polled often: a ready-made body skips validation and serialization.
    return Response(ALIVE, content_type="application/json")


@blueprint.get("/readyz")
@validate_response(HealthStatus, 200)
@validate_response(HealthStatus, 503)
async def readiness() -> tuple[HealthStatus, int]:
    """The service can reach its database (503 when it cannot)."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            async with get_database().engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception:
        logger.warning("Readiness check failed: the database is unreachable", exc_info=True)
        return HealthStatus(status="unavailable"), 503
    return HealthStatus(status="ok"), 200
