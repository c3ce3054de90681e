from __future__ import annotations

from typing import Any

from quart.testing import QuartClient


async def test_openapi_documents_every_endpoint(client: QuartClient) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    document = await response.get_json()
    assert document["openapi"].startswith("3.")
    operations = {(path, method) for path, item in document["paths"].items() for method in item}
    assert operations >= {
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/api/v1/items", "get"),
        ("/api/v1/items", "post"),
        ("/api/v1/items/{item_id}", "get"),
        ("/api/v1/items/{item_id}", "patch"),
        ("/api/v1/items/{item_id}", "delete"),
    }
    create = document["paths"]["/api/v1/items"]["post"]
    assert "requestBody" in create
    assert {"201", "422"} <= set(create["responses"])


async def test_problems_share_one_schema_and_every_response_says_what_it_is(
    client: QuartClient,
) -> None:
    document = await (await client.get("/openapi.json")).get_json()
    responses = [
        (status, response)
        for item in document["paths"].values()
        for operation in item.values()
        for status, response in operation["responses"].items()
    ]
    problems = [
        response["content"]["application/problem+json"]["schema"]
        for _, response in responses
        if "application/problem+json" in response.get("content", {})
    ]

    assert len(problems) > 10
    assert all(schema == {"$ref": "#/components/schemas/Problem"} for schema in problems)
    assert document["components"]["schemas"]["Problem"]["required"] == ["title", "status", "detail"]
    assert [status for status, response in responses if not response["description"]] == []


async def test_responses_document_the_headers_that_come_with_them(client: QuartClient) -> None:
    document = await (await client.get("/openapi.json")).get_json()
    items = document["paths"]["/api/v1/items"]

    def headers(operation: dict[str, Any], status: str) -> set[str]:
        return set(operation["responses"][status].get("headers", {}))

    assert "Location" in headers(items["post"], "201")
    assert "Retry-After" in headers(items["get"], "503")
{%- if cookiecutter.auth == "jwt" %}
    assert "WWW-Authenticate" in headers(items["get"], "401")
    assert "WWW-Authenticate" in headers(items["post"], "403")
{%- endif %}
{%- if cookiecutter.rate_limit != "none" %}
    assert "Retry-After" in headers(items["get"], "429")
    rate_limit = {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}
    for operation in items.values():
        for status in operation["responses"]:
            assert rate_limit <= headers(operation, status), status
{%- endif %}
    # Health checks are not limited, and say nothing beyond their bodies.
    assert headers(document["paths"]["/healthz"]["get"], "200") == set()
