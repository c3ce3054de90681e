from __future__ import annotations

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
