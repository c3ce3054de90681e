"""The README's main command: `make demo` renders the default project and serves it.

Driven over real HTTP on a free loopback port, then stopped with SIGTERM like a supervisor
would; the figures it prints are the ones the closing notes quote.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from http.client import HTTPConnection
from pathlib import Path

import pytest
from conftest import (
    TEMPLATE,
    command_line,
    descendants,
    free_port,
    http,
    project_env,
    run,
    wait_until_ready,
)

PROBLEM_JSON = "application/problem+json"


def drive_the_item_lifecycle(base: str, auth: dict[str, str]) -> None:
    status, headers, created = http(
        "POST", f"{base}/api/v1/items", {"name": "Widget", "description": "A part"}, headers=auth
    )
    assert status == 201
    assert headers["location"] == f"/api/v1/items/{created['id']}"
    assert headers["ratelimit-limit"] == "100"
    item_url = f"{base}{headers['location']}"

    assert http("GET", item_url, headers=auth)[2] == created
    status, _, page = http("GET", f"{base}/api/v1/items?limit=5", headers=auth)
    assert status == 200
    assert page["limit"] == 5
    assert created in page["items"]

    status, _, updated = http("PATCH", item_url, {"description": None}, headers=auth)
    assert status == 200
    assert updated["name"] == "Widget"
    assert updated["description"] is None

    assert http("DELETE", item_url, headers=auth)[0] == 204
    assert http("GET", item_url, headers=auth)[0] == 404


def check_hardening(base: str) -> None:
    status, headers, _ = http("GET", f"{base}/healthz")
    assert status == 200
    assert "server" not in headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    status, headers, problem = http("GET", f"{base}/api/v1/items")
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    assert headers["content-type"] == PROBLEM_JSON
    assert problem["status"] == 401


def check_bad_inputs(base: str, auth: dict[str, str]) -> None:
    items = f"{base}/api/v1/items"
    cases = [
        (
            ("POST", items),
            {"raw": b'{"name": ', "headers": {"Content-Type": "application/json"}},
            400,
        ),
        (("POST", items), {"raw": b"name=x", "headers": {"Content-Type": "text/plain"}}, 415),
        (("POST", items), {"body": {"name": ""}}, 422),
        (("POST", items), {"body": {"name": "x" * 201}}, 422),
        (("POST", items), {"body": {"name": 7}}, 422),
        (("GET", f"{items}?limit=0"), {}, 422),
        (("GET", f"{items}?limit=lots"), {}, 422),
        (("GET", f"{items}/999999"), {}, 404),
        (("GET", f"{items}/99999999999999999999999"), {}, 404),
        (("PUT", items), {"body": {"name": "x"}}, 405),
    ]
    for (method, url), options, expected in cases:
        options["headers"] = {**options.get("headers", {}), **auth}
        status, headers, problem = http(method, url, **options)
        assert status == expected, (method, url, status, problem)
        assert headers["content-type"] == PROBLEM_JSON
        assert problem["status"] == expected
        assert problem["detail"]
        assert "Traceback" not in str(problem)
    check_oversized_body(items, auth)


def check_oversized_body(url: str, auth: dict[str, str]) -> None:
    """A body over the limit is refused from its Content-Length, before it is read.

    Only the head is sent: a client still uploading when the 413 arrives may see the
    connection reset instead, which is a race in the test, not in the service.
    """
    parts = urllib.parse.urlsplit(url)
    connection = HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.putrequest("POST", parts.path)
        for name, value in {"Content-Type": "application/json", **auth}.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(2 * 1024 * 1024))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert response.getheader("Content-Type") == PROBLEM_JSON
        assert json.loads(response.read())["status"] == 413
    finally:
        connection.close()


def serve(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop_with_sigterm(process: subprocess.Popen[str]) -> str:
    """SIGTERM the server under ``process``; make exits with the server's own status."""
    servers = [pid for pid in descendants(process.pid) if "my_service.serve" in command_line(pid)]
    assert servers, "no server process found under make"
    os.kill(servers[0], signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"the server did not stop within 30 s of SIGTERM:\n{output[-4000:]}")
    return output


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_make_demo_serves_the_rendered_project(
    tmp_path: Path, database: str, postgres_database: Callable[[], str]
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = project_env()
    command = ["make", "demo", f"DEMO_DIR={tmp_path}", f"PORT={port}"]
    if database == "postgresql":
        env["MY_SERVICE_DATABASE_URL"] = postgres_database()
        command.append("DEMO_ANSWERS=database=postgresql")

    started = time.monotonic()
    process = serve(command, TEMPLATE, env)
    try:
        ready = wait_until_ready(f"{base}/readyz", process)
        print(f"\nrender-to-ready ({database}): {ready - started:.2f} s")

        assert http("GET", f"{base}/healthz")[2] == {"status": "ok"}
        assert http("GET", f"{base}/openapi.json")[0] == 200
        check_hardening(base)
        # The README's way to get a development token.
        token = run(["make", "-s", "token"], cwd=tmp_path / "my-service", env=env).stdout.strip()
        auth = {"Authorization": f"Bearer {token}"}
        drive_the_item_lifecycle(base, auth)
        check_bad_inputs(base, auth)
    finally:
        output = stop_with_sigterm(process)

    assert process.returncode == 0, output[-4000:]
    assert f"Serving on {base}" in output
    assert (tmp_path / "my-service" / "LICENSE").is_file()
