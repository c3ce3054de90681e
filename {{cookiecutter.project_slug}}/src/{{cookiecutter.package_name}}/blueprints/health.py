"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import logging

from pydantic import BaseModel
from quart import Blueprint
from quart_schema import validate_response
from sqlalchemy import text

from ..db import get_database

READINESS_TIMEOUT_SECONDS = 2.0

blueprint = Blueprint("health", __name__)
logger = logging.getLogger(__name__)


class HealthStatus(BaseModel):
    status: str


@blueprint.get("/healthz")
@validate_response(HealthStatus)
async def liveness() -> HealthStatus:
    """The process is up and serving; touches nothing else."""
    return HealthStatus(status="ok")


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
