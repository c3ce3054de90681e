"""Property-based fuzzing of the running service from its own OpenAPI document (schemathesis).

Every generated request, valid or not, must get a documented status and content type, a body
matching its schema, never a 5xx, and never a trace of the internals.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import given, settings
from schemathesis import (
    APIOperation,
    BaseSchema,
    Case,
    CheckContext,
    GenerationMode,
    Response,
)
from schemathesis.core.result import Err

from .conftest import LiveServer, authorization, fresh_database_url, make_settings, prepare

# Per operation; about 100 cases for each of the five item operations, fewer for the rest.
EXAMPLES = 100
# What a leaked traceback, query or path would contain.
INTERNALS = ("Traceback", 'File "', "sqlalchemy", "asyncpg", "aiosqlite", "sqlite3", "SELECT ")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the whole fuzz run, on its own database."""
    directory = tmp_path_factory.mktemp("fuzz")
    server_settings = make_settings(fresh_database_url(directory))
    server = LiveServer(server_settings, directory / "server.log")
    prepare(server_settings)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api(fuzzed: LiveServer) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")


def sent_text(value: object) -> Iterator[str]:
    """Every string a request carried (keys too), as sent and as JSON would escape it."""
    if isinstance(value, str):
        yield value
        yield json.dumps(value)[1:-1]
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from sent_text(key)
            yield from sent_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from sent_text(item)


def no_internals_in_errors(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Error bodies explain the problem, never the implementation (the caller's own text, which
    a 422 may quote back, aside)."""
    if response.status_code >= 400:
        body = response.text
        inputs = [case.query, case.path_parameters, dict(case.headers or {}), case.body]
        for text in sorted(set(sent_text(inputs)), key=len, reverse=True):
            if text:
                body = body.replace(text, "")
        leaked = [marker for marker in INTERNALS if marker in body]
        assert not leaked, f"{case.method} {case.path} leaked {leaked}: {body[:500]}"
        assert str(Path.cwd()) not in body
    return None


def fuzz(
    operation: APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    server: LiveServer,
    statuses: dict[str, Counter[int]],
) -> None:
    """Up to EXAMPLES generated requests to one operation, each checked against the contract."""
    label = f"{operation.method.upper()} {operation.path} ({mode.value})"
    headers = authorization(server.settings)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    def keeps_contract(case: Case[Any]) -> None:
        # A real token wherever the case sends one; a case that drops the header on purpose
        # (invalid input) keeps it dropped, and must get a 401.
        if case.headers is not None and (
            mode is GenerationMode.POSITIVE or "Authorization" in case.headers
        ):
            case.headers.update(headers)
        response = case.call_and_validate(
            base_url=server.url, additional_checks=[no_internals_in_errors]
        )
        statuses[label][response.status_code] += 1

    keeps_contract()


def test_the_api_keeps_its_contract_under_any_input(api: BaseSchema, fuzzed: LiveServer) -> None:
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for result in api.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        fuzz(operation, GenerationMode.POSITIVE, fuzzed, statuses)
        if any(True for _ in operation.iter_parameters()) or operation.body:
            # Invalid input needs some input to make invalid.
            fuzz(operation, GenerationMode.NEGATIVE, fuzzed, statuses)
    print("fuzzed:", {label: dict(counts) for label, counts in statuses.items()})
    assert {label.partition(" (")[0] for label in statuses} >= {
        "GET /healthz",
        "GET /readyz",
        "GET /api/v1/items",
        "POST /api/v1/items",
        "GET /api/v1/items/{item_id}",
        "PATCH /api/v1/items/{item_id}",
        "DELETE /api/v1/items/{item_id}",
    }
    assert sum(sum(counts.values()) for counts in statuses.values()) >= 8 * EXAMPLES
    # Valid input got past auth and validation and did its work, not only documented refusals.
    assert statuses["POST /api/v1/items (positive)"][201] > 0
    assert statuses["GET /api/v1/items (positive)"][200] > 0
