"""The OpenAPI document: what quart-schema derives from the views, plus the problems
(RFC 9457) that every API operation may answer, so clients and fuzzers see them all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cached_property, wraps
from http import HTTPStatus
from typing import Any, ParamSpec

from quart import Response
from quart_schema import OpenAPIProvider
from werkzeug.routing import Rule

from .blueprints import API_PREFIX
from .errors import PROBLEM_JSON, Problem

# Every API operation: the database may be down.
ALWAYS = (503,)
# Operations that take a JSON body.
WITH_BODY = (400, 408, 413, 415, 422)
# Operations with query parameters.
WITH_QUERY = (422,)
# Operations that need a bearer token.
WITH_SECURITY = (401, 403)
RATE_LIMITED = (429,)
# Response headers, as the document describes them.
STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}


def _header(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "schema": schema}


# The headers that come with a status, whatever the operation (RFC 9110, RFC 6750).
STATUS_HEADERS = {
    201: {"Location": _header("The new resource's URL.", STRING)},
    401: {"WWW-Authenticate": _header("Bearer; error=invalid_token if a token was sent.", STRING)},
    403: {"WWW-Authenticate": _header('Bearer error="insufficient_scope" and the scope.', STRING)},
    429: {"Retry-After": _header("Seconds until a request will be let through.", INTEGER)},
    503: {"Retry-After": _header("Seconds to wait before trying again.", INTEGER)},
}
# On every response of a rate-limited operation whose request was counted.
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": _header("Requests allowed per period.", INTEGER),
    "RateLimit-Remaining": _header("Requests left now.", INTEGER),
    "RateLimit-Reset": _header("Seconds until the whole allowance is back.", INTEGER),
}

NO_CONTENT_ATTRIBUTE = "_answers_no_content"

P = ParamSpec("P")


def no_content(view: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[Response]]:
    """Answer 204 No Content once ``view`` returns, and document that it does.

    The response has no body and so no ``Content-Type`` or ``Content-Length`` either
    (RFC 9110 forbids the latter on a 204), which Quart would add to ``"", 204``.
    """

    @wraps(view)
    async def answer(*args: P.args, **kwargs: P.kwargs) -> Response:
        await view(*args, **kwargs)
        response = Response(status=HTTPStatus.NO_CONTENT)
        del response.headers["Content-Type"]
        return response

    setattr(answer, NO_CONTENT_ATTRIBUTE, True)
    return answer


class APIDocument(OpenAPIProvider):
    @cached_property
    def _problem(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The problem+json response object and its schemas, built once, and the content
        quart-schema gives a view's own ``Problem`` response (``document_response``), which it
        replaces. Its schema is a component, referred to by each of the ~30 responses."""
        problem, components = self.build_response_object(Problem, None)
        inline = problem["content"]["application/json"]
        components[Problem.__name__] = inline["schema"]
        reference = {"$ref": f"#/components/schemas/{Problem.__name__}"}
        media_type = {"schema": reference}
        problem["content"] = {PROBLEM_JSON: media_type}
        return problem, components, inline

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        view = self._app.view_functions[rule.endpoint]
        problem, problem_components, problem_schema = self._problem
        for path, path_item in paths.items():
            for operation in path_item.values():
                if "requestBody" in operation:
                    # Every body-taking view needs its body.
                    operation["requestBody"] = {**operation["requestBody"], "required": True}
                responses = operation["responses"] = dict(operation["responses"])
                if getattr(view, NO_CONTENT_ATTRIBUTE, False):
                    responses[204] = {"description": HTTPStatus(204).phrase}
                for status, response in responses.items():
                    description = response["description"] or HTTPStatus(int(status)).phrase
                    if response.get("content", {}).get("application/json") == problem_schema:
                        responses[status] = {**problem, "description": description}
                    else:
                        responses[status] = {**response, "description": description}
                if path.startswith(API_PREFIX):
                    for status in self._problem_statuses(operation):
                        description = HTTPStatus(status).phrase
                        responses.setdefault(status, {**problem, "description": description})
                limited = path.startswith(API_PREFIX) and self._rate_limited
                for status, response in responses.items():
                    headers = {**STATUS_HEADERS.get(int(status), {})}
                    if limited:
                        headers.update(RATE_LIMIT_HEADERS)
                    if headers:
                        responses[status] = {**response, "headers": headers}
        components.update(problem_components)
        return paths, components

    @property
    def _rate_limited(self) -> bool:
        return bool(self._app.config.get("QUART_RATE_LIMITER_ENABLED"))

    def _problem_statuses(self, operation: dict[str, Any]) -> list[int]:
        statuses = list(ALWAYS)
        if "requestBody" in operation:
            statuses.extend(WITH_BODY)
        if any(parameter["in"] == "query" for parameter in operation["parameters"]):
            statuses.extend(WITH_QUERY)
        if operation.get("security"):
            statuses.extend(WITH_SECURITY)
        if self._rate_limited:
            statuses.extend(RATE_LIMITED)
        return sorted(set(statuses))
