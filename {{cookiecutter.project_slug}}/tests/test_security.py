"""Hardening on every response: security headers, CORS only where allowed, trusted proxies."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from quart import Quart, Response, request, session
from quart.testing import QuartClient

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.security import CORS_MAX_AGE_SECONDS

from .conftest import LiveServer, authorization, make_settings, prepare, started_app

ITEMS = "/api/v1/items"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", ITEMS, "/nowhere", "/openapi.json"])
async def test_every_response_carries_the_security_headers(client: QuartClient, path: str) -> None:
    response = await client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers
    assert "Server" not in response.headers


async def test_a_view_keeps_its_own_caching_and_a_crash_keeps_the_headers(
    app: Quart, client: QuartClient
) -> None:
    @app.get("/cacheable")
    async def cacheable() -> Response:
        return Response("ok", headers={"Cache-Control": "max-age=60"})

    @app.get("/crash")
    async def crash() -> str:
        raise RuntimeError("boom")

    cached = await client.get("/cacheable")
    assert cached.headers.getlist("Cache-Control") == ["max-age=60"]
    assert cached.headers["X-Content-Type-Options"] == "nosniff"
    crashed = await client.get("/crash")
    assert crashed.status_code == 500
    assert crashed.headers["X-Frame-Options"] == "DENY"
    assert crashed.headers.getlist("Cache-Control") == ["no-store"]


async def test_no_session_cookie_is_ever_set(app: Quart, client: QuartClient) -> None:
    @app.get("/remember")
    async def remember() -> str:
        session["user"] = "someone"
        return "ok"

    response = await client.get("/remember")
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers
    assert "Set-Cookie" not in (await client.get(ITEMS)).headers


async def test_hsts_is_sent_when_configured(database_url: str) -> None:
    app = create_app(make_settings(database_url, hsts_seconds=31536000))
    async with app.test_app():
        response = await app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


async def test_the_development_docs_page_may_load_its_cdn_and_nothing_else(
    database_url: str,
) -> None:
    app = create_app(make_settings(database_url, environment="development"))
    async with app.test_app():
        response = await app.test_client().get("/docs")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "script-src https://cdnjs.cloudflare.com" in policy
    assert "frame-ancestors 'none'" in policy


async def test_cors_is_off_by_default(client: QuartClient) -> None:
    response = await client.options(
        ITEMS,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers
    response = await client.get(ITEMS, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_cors_allows_only_the_configured_origins(database_url: str) -> None:
    app = create_app(make_settings(database_url, cors_origins="https://app.example"))
    async with app.test_app():
        client = app.test_client()
        preflight = await client.options(
            ITEMS,
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            },
        )
        other = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    assert preflight.headers["Access-Control-Max-Age"] == str(CORS_MAX_AGE_SECONDS)
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_browsers_may_read_the_headers_the_api_documents(database_url: str) -> None:
    settings = make_settings(database_url, cors_origins="https://app.example")
    async with started_app(settings) as app:
        response = await app.test_client().get(
            ITEMS, headers={"Origin": "https://app.example", **authorization(settings)}
        )
    assert response.status_code == 200
    exposed = response.headers["Access-Control-Expose-Headers"].lower().split(", ")
    assert "location" in exposed
    assert "retry-after" in exposed
{%- if cookiecutter.auth == "jwt" %}
    assert "www-authenticate" in exposed
{%- endif %}
{%- if cookiecutter.rate_limit != "none" %}
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(exposed)
{%- endif %}


def remote_address_app(settings: Settings) -> Quart:
    app = create_app(settings)

    @app.get("/whoami")
    async def whoami() -> str:
        return request.remote_addr or ""

    return app


async def whoami(app: Quart, forwarded_for: str) -> str:
    """What the app believes the client's address is, over a real ASGI scope."""
    client = app.test_client()
    response = await client.get(
        "/whoami",
        headers={"X-Forwarded-For": forwarded_for},
        scope_base={"client": ("10.0.0.9", 5000)},
    )
    return await response.get_data(as_text=True)


async def test_forwarded_for_is_ignored_without_trusted_proxies(database_url: str) -> None:
    app = remote_address_app(make_settings(database_url))
    async with app.test_app():
        assert await whoami(app, "203.0.113.7") == "10.0.0.9"


async def test_forwarded_for_is_believed_only_as_far_as_the_trusted_proxies(
    database_url: str,
) -> None:
    app = remote_address_app(make_settings(database_url, trusted_proxy_count=1))
    async with app.test_app():
        # The client forged the first hop; the one proxy we run appended the real one.
        assert await whoami(app, "1.2.3.4, 203.0.113.7") == "203.0.113.7"


async def test_a_body_that_never_finishes_is_a_408(database_url: str) -> None:
    settings = make_settings(database_url, body_timeout_seconds=0.2)
    app = create_app(settings)
    headers = {"Content-Type": "application/json", **authorization(settings)}
    async with app.test_app():
        client = app.test_client()
        async with client.request(ITEMS, method="POST", headers=headers) as connection:
            await connection.send(b'{"name": ')
            await asyncio.sleep(0.5)
            await connection.send_complete()
            response = await connection.as_response()
    assert response.status_code == 408
    assert response.content_type == "application/problem+json"
    assert (await response.get_json())["detail"] == "The request body did not arrive in time."
    assert response.headers["Connection"] == "close"


@pytest.mark.parametrize(
    ("status", "overrides"),
    [
        (408, {"body_timeout_seconds": 0.5}),  # 24 bytes announced, none sent
        (413, {"max_content_length": 16}),  # 24 bytes announced, more than allowed
    ],
)
def test_a_body_left_unread_ends_the_connection(
    settings: Settings, tmp_path: Path, status: int, overrides: dict[str, Any]
) -> None:
    """Over real HTTP: the server closes the connection after the response, so the unread
    rest of a body is never taken for the next request."""
    served = settings.model_copy(update=overrides)
    prepare(served)
    server = LiveServer(served, tmp_path / "server.log")
    head = [
        "POST /api/v1/items HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        "Content-Length: 24",
        *(f"{name}: {value}" for name, value in authorization(served).items()),
    ]
    try:
        server.wait_until_ready()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            received = b""
            # Until the server closes the connection; a timeout here fails the test.
            while chunk := connection.recv(65536):
                received += chunk
    finally:
        server.stop()

    status_line, *headers = received.partition(b"\r\n\r\n")[0].decode().split("\r\n")
    assert status_line.startswith(f"HTTP/1.1 {status} ")
    assert "connection: close" in [header.lower() for header in headers]
