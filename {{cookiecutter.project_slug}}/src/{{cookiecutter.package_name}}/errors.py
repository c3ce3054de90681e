"""Every error as ``application/problem+json`` (RFC 9457), never an HTML page or a traceback."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ValidationError
from quart import Quart, Request, Response, current_app, request
from quart_schema import RequestSchemaValidationError
from quart_schema.validation import QuerystringValidationError
from sqlalchemy.exc import DBAPIError{% if cookiecutter.database == "postgresql" %}, InterfaceError, OperationalError{% endif %}
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import BadRequest, HTTPException, UnsupportedMediaType

{% if cookiecutter.database == "postgresql" -%}
from .db import DatabaseUnreachableError
{%- else -%}
from . import sqlite
{%- endif %}
from .logs import summary

PROBLEM_JSON = "application/problem+json"
{%- if cookiecutter.database == "postgresql" %}
# What a database that is down, unreachable or saturated raises: a 503, not a 500.
DATABASE_UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    DatabaseUnreachableError,
)
{%- else %}
# What a saturated database raises (no connection free in time): a 503, not a 500. SQLite
# raises one error class for a database that is locked or cannot be opened and for a misspelt
# table; is_database_outage tells them apart by SQLite's result code.
DATABASE_UNAVAILABLE = (PoolTimeoutError,)
{%- endif %}
RETRY_AFTER_SECONDS = 5


class FieldError(BaseModel):
    detail: str
    pointer: str | None = None
    parameter: str | None = None


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class JSONRequest(Request):
    """A request whose body, when a view reads it as JSON, is refused with a reason: 415 when
    it was not sent as JSON, 400 (with the parse error) when it is malformed."""

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if not (force or silent or self.is_json):
            # Quart would answer None, which a view's validation would call an invalid body.
            raise UnsupportedMediaType(
                "Send the body as JSON, with Content-Type: application/json."
            )
        try:
            return await super().get_json(force=force, silent=silent, cache=cache)
        except UnicodeDecodeError:
            raise BadRequest("The request body is not valid UTF-8.") from None
        except RecursionError:
            # Python's json module parses nested arrays and objects by recursion.
            raise BadRequest(
                "The request body is not valid JSON: it is nested too deeply."
            ) from None

    def on_json_loading_failed(self, error: Exception) -> Any:
        raise BadRequest(f"The request body is not valid JSON: {error}")


def problem(
    status: int,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response for ``status``."""
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors)
    response = Response(
        body.model_dump_json(exclude_none=True),
        status=status,
        content_type=PROBLEM_JSON,
    )
    response.headers.update(headers or {})
    return response


def _field_errors(error: ValidationError, location: str) -> list[FieldError]:
    found = []
    for item in error.errors(include_url=False, include_input=False):
        path = [str(part) for part in item["loc"]]
        # A validator's own message, without the "Value error, " pydantic puts before it.
        detail = item["msg"].removeprefix("Value error, ")
        if location == "query":
            found.append(FieldError(detail=detail, parameter=".".join(path)))
        else:
            found.append(FieldError(detail=detail, pointer=_json_pointer(path)))
    return found


def _json_pointer(path: list[str]) -> str:
    """``path`` as a JSON Pointer (RFC 6901) in a URI fragment: ``#`` is the whole body."""
    return "#" + "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in path)


async def handle_validation_error(error: RequestSchemaValidationError) -> Response:
    location = "query" if isinstance(error, QuerystringValidationError) else "body"
    cause = error.validation_error
    errors = _field_errors(cause, location) if isinstance(cause, ValidationError) else None
    return problem(422, f"The request {location} is invalid.", errors=errors)


def _detail(error: HTTPException, status: int) -> str:
    """What the error says, or, where it says only what werkzeug says for its status (words for
    a browser's user, or not true of this service), the service's own words."""
    if error.description and error.description != type(error).description:
        return error.description
    if status == 404:
        return "Nothing is at this URL."
    if status == 408:
        return "The request body did not arrive in time."
    if status == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return f"The request body is larger than the {limit:,} bytes this service accepts."
    if status == 429:
        return "Too many requests from this client; retry after Retry-After seconds."
    return error.description or HTTPStatus(status).description


async def handle_http_error(error: HTTPException) -> Response:
    status = error.code or 500
    # Keep what the error says in its headers: Allow, WWW-Authenticate, Retry-After.
    headers = {name: value for name, value in error.get_headers() if name != "Content-Type"}
    if status in (408, 413):
        # The body was not read, or not to its end: what is left of it would be taken for the
        # next request on the connection.
        headers["Connection"] = "close"
    return problem(status, _detail(error, status), headers=headers)


async def handle_database_unavailable(error: Exception) -> Response:
    # One line, not a traceback: an outage fails every request until it ends.
    current_app.logger.warning(
        "Database unavailable on %s %s: %s", request.method, request.path, summary(error)
    )
    return problem(
        503,
        "The database is unavailable; try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def is_database_outage(error: BaseException) -> bool:
    """Whether ``error`` says the database is down, unreachable or saturated (answered 503,
    to be waited out) rather than that the code or the schema is wrong (a bug, answered 500).

    A connection lost in the middle of a statement (the server restarted, failed over or
    ended the session) is an outage like the others.
    """
    if isinstance(error, DATABASE_UNAVAILABLE):
        return True
    if isinstance(error, DBAPIError):
{%- if cookiecutter.database == "postgresql" %}
        return error.connection_invalidated
{%- else %}
        return error.connection_invalidated or sqlite.is_outage(error.orig)
{%- endif %}
    return False


async def handle_database_error(error: DBAPIError) -> Response:
    if is_database_outage(error):
        return await handle_database_unavailable(error)
    return await handle_unexpected_error(error)


async def handle_unexpected_error(error: Exception) -> Response:
    current_app.logger.exception(
        "Unhandled error on %s %s", request.method, request.path, exc_info=error
    )
    return problem(500, "The server could not complete the request.")


def register_error_handlers(app: Quart) -> None:
    app.request_class = JSONRequest
    app.register_error_handler(RequestSchemaValidationError, handle_validation_error)
    app.register_error_handler(HTTPException, handle_http_error)
    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, handle_database_unavailable)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected_error)
