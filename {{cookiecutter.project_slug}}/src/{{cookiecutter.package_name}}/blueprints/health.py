"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from pydantic import BaseModel
from quart import Blueprint, Response
from quart_schema import document_response, validate_response
from sqlalchemy import Connection, String, column, inspect, select, table

from ..db import get_database
from ..logs import summary

READINESS_TIMEOUT_SECONDS = 2.0
ALIVE = b'{"status":"ok"}'
# Where Alembic records the revision a database is at: no row, no schema.
MIGRATIONS_TABLE = "alembic_version"
MIGRATED_REVISION = (
    select(column("version_num", String)).select_from(table(MIGRATIONS_TABLE)).limit(1)
)

blueprint = Blueprint("health", __name__)
logger = logging.getLogger(__name__)


class HealthStatus(BaseModel):
    status: Literal["ok", "unavailable", "unmigrated"]


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
    """The service can reach its database, and the migrations have run there (503 if not)."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            async with get_database().engine.connect() as connection:
                migrated = await connection.run_sync(is_migrated)
    except Exception as error:
        # One line, not a traceback: probes come every few seconds for as long as it lasts.
        logger.warning("Readiness check failed: the database is unreachable: %s", summary(error))
        return HealthStatus(status="unavailable"), 503
    if not migrated:
        logger.warning(
            "Readiness check failed: the database has no schema; run the migrations "
            "(alembic upgrade head)"
        )
        return HealthStatus(status="unmigrated"), 503
    return HealthStatus(status="ok"), 200


def is_migrated(connection: Connection) -> bool:
    """Whether Alembic has recorded a revision in this database.

    Any revision will do, not only the newest this code knows: during a rolling deploy the
    old processes must stay ready after the new release's migrations have run.
    """
    if not inspect(connection).has_table(MIGRATIONS_TABLE):
        return False
    return connection.execute(MIGRATED_REVISION).first() is not None
