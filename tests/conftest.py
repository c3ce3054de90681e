"""Helpers shared by the template's tests: rendering, running and probing generated projects."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHOICES: dict[str, list[str]] = {
    key: value
    for key, value in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items()
    if isinstance(value, list) and not key.startswith("_")
}
POSTGRES_ADMIN_URL = os.environ.get(
    "QS_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def render(output_dir: Path, **answers: str) -> Path:
    """Render the template with ``answers`` through the Python API; the project folder."""
    return Path(
        cookiecutter(
            str(TEMPLATE),
            no_input=True,
            output_dir=str(output_dir),
            extra_context=answers,
        )
    )


def python_for(version: str) -> str:
    """A local interpreter for ``version`` (pyenv's, or one on PATH), else the bare version for uv."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    installed = sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))
    if installed:
        return str(installed[-1])
    return shutil.which(f"python{version}") or version


def project_env(version: str = "3.11", **extra: str) -> dict[str, str]:
    """The environment a user's shell would give ``make`` in a rendered project."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT", "MAKEFLAGS", "MAKELEVEL"}
        and not key.endswith(("_DATABASE_URL", "_ENVIRONMENT", "_SECRET_KEY"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["UV_PYTHON"] = python_for(version)
    env["UV_NO_PROGRESS"] = "1"
    env.update(extra)
    return env


def run(
    command: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run ``command``; fail the test with its output when it fails."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    method: str,
    url: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One real HTTP request; (status, headers with lowercase names, parsed JSON body or None)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None and raw is None:
        request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, response_headers, content = (
                response.status,
                dict(response.headers),
                response.read(),
            )
    except urllib.error.HTTPError as error:
        status, response_headers, content = error.code, dict(error.headers), error.read()
    headers_lower = {key.lower(): value for key, value in response_headers.items()}
    return status, headers_lower, json.loads(content) if content else None


def wait_until_ready(url: str, process: subprocess.Popen[str], timeout: float = 300) -> float:
    """Poll ``url`` until it answers 200; the moment it did (time.monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(
                f"the server exited with {process.returncode} before it was ready:\n{output[-6000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    pytest.fail(f"{url} did not answer 200 within {timeout} s")


def descendants(pid: int) -> list[int]:
    """Every process started under ``pid`` (Linux /proc)."""
    found = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        children_file = Path(f"/proc/{parent}/task/{parent}/children")
        try:
            children = [int(child) for child in children_file.read_text().split()]
        except OSError:
            children = []
        found.extend(children)
        pending.extend(children)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture
def postgres_database() -> Iterator[Callable[[], str]]:
    """Makes throwaway PostgreSQL databases on the local server (asyncpg URLs); drops them after."""
    admin = ["psql", POSTGRES_ADMIN_URL, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c"]
    made: list[str] = []

    def create() -> str:
        name = f"qs_test_{os.getpid()}_{time.monotonic_ns()}"
        subprocess.run([*admin, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
        made.append(name)
        # On the server, and as the role, that QS_POSTGRES_URL names.
        admin_url = urlsplit(POSTGRES_ADMIN_URL)
        return urlunsplit(admin_url._replace(scheme="postgresql+asyncpg", path=f"/{name}"))

    yield create
    for name in made:
        subprocess.run(
            [*admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            check=True,
            capture_output=True,
        )
