"""The serving command: its arguments, checked before any server starts, and where it listens.{% if cookiecutter.server == "granian" %}
Also Granian's own workers, which the supervisor in workers.py does not run.{% endif %}"""

from __future__ import annotations

import errno
import os
{%- if cookiecutter.server == "granian" %}
import shutil
import signal
{%- endif %}
import socket
import subprocess
import sys
{%- if cookiecutter.server == "granian" %}
import time
{%- endif %}
from pathlib import Path

import httpx
import pytest

from {{ cookiecutter.package_name }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.package_name }}.serve import main, parse_arguments

from .conftest import LiveServer, prepare


def development_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings that pass, whatever .env says."""
    monkeypatch.setenv(f"{ENV_PREFIX}ENVIRONMENT", "development")
{%- if cookiecutter.auth == "jwt" %}
    monkeypatch.setenv(f"{ENV_PREFIX}JWT_SECRET_KEY", "j" * 40)
{%- endif %}


def test_help_names_the_command_even_with_docstrings_stripped() -> None:
    # python -OO (or PYTHONOPTIMIZE=2, as some images set) removes every docstring.
    command = [sys.executable, "-OO", "-m", "{{ cookiecutter.package_name }}.serve", "--help"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m {{ cookiecutter.package_name }}.serve ")
    assert "--workers WORKERS" in result.stdout
    assert "port to listen on (8000)" in result.stdout


def test_defaults_serve_one_worker_on_localhost() -> None:
    arguments = parse_arguments([])
    assert (arguments.host, arguments.port, arguments.workers) == ("127.0.0.1", 8000, 1)


@pytest.mark.parametrize(
    ("option", "given", "message"),
    [
        ("--workers", "0", "must be at least 1, not 0"),
        ("--workers", "two", "'two' is not a whole number"),
        ("--port", "0", "must be from 1 to 65535, not 0"),
        # The resolver would take it for port 0, and the server fail on it with a traceback.
        ("--port", "65536", "must be from 1 to 65535, not 65536"),
        ("--port", "http", "'http' is not a whole number"),
    ],
)
def test_a_worker_count_or_port_out_of_range_is_refused(
    option: str, given: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_arguments([option, given])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_host_name_is_served(settings: Settings, tmp_path: Path) -> None:
    # Granian takes IP addresses only: serve.py gives it the one the name resolves to.
    prepare(settings)
    server = LiveServer(settings, tmp_path / "server.log", host="localhost")
    try:
        server.wait_until_ready()
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    finally:
        assert server.stop() == 0, server.log.read_text()


def test_a_port_in_use_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    development_settings(monkeypatch)
    with socket.socket() as other_server:
        other_server.bind(("127.0.0.1", 0))
        other_server.listen()
        port = other_server.getsockname()[1]

        assert main(["--port", str(port)]) == 2

    assert capsys.readouterr().err == (
        f"Cannot start: cannot listen on 127.0.0.1:{port}: {os.strerror(errno.EADDRINUSE)}.\n"
    )


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        # TEST-NET-1 (RFC 5737): an address, but none of this machine's.
        ("192.0.2.1", os.strerror(errno.EADDRNOTAVAIL)),
        ("bad..host", "no such address"),
    ],
)
def test_a_host_that_is_not_this_machines_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], host: str, reason: str
) -> None:
    development_settings(monkeypatch)

    assert main(["--host", host, "--port", "8000"]) == 2

    assert capsys.readouterr().err == f"Cannot start: cannot listen on {host}:8000: {reason}.\n"
{%- if cookiecutter.server == "hypercorn" %}


def test_serving_away_from_the_server_settings_says_where_they_are(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no hypercorn.toml, no .env
    development_settings(monkeypatch)

    assert main(["--port", "1"]) == 2

    assert capsys.readouterr().err == (
        "Cannot start: there is no hypercorn.toml here; serve from the project's folder, "
        "or give its path with --config.\n"
    )
{%- endif %}
{%- if cookiecutter.server == "granian" %}


def worker_pids(server: LiveServer) -> set[int]:
    """The server's child processes: Granian's workers."""
    pgrep = shutil.which("pgrep")
    assert pgrep, "pgrep (procps) lists the workers"
    listed = subprocess.run(
        [pgrep, "-P", str(server.process.pid)], capture_output=True, text=True, check=False
    )
    return {int(pid) for pid in listed.stdout.split()}


@pytest.mark.parametrize("live_server", [2], indirect=True)
def test_a_granian_worker_that_dies_is_replaced_while_the_other_serves(
    live_server: LiveServer,
) -> None:
    workers = worker_pids(live_server)
    assert len(workers) == 2, workers
    killed = workers.pop()

    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while worker_pids(live_server) in ({*workers}, {*workers, killed}):
        assert time.monotonic() < deadline, live_server.log.read_text()
        assert httpx.get(f"{live_server.url}/healthz", timeout=5).status_code == 200
        time.sleep(0.1)

    assert len(worker_pids(live_server) - {killed}) == 2
    assert httpx.get(f"{live_server.url}/readyz", timeout=5).status_code == 200
    assert live_server.stop() == 0, live_server.log.read_text()
{%- endif %}
