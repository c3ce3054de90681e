"""The serving command's own arguments, before any server starts."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
{%- if cookiecutter.server == "hypercorn" %}
from pathlib import Path
{%- endif %}

import pytest

from {{ cookiecutter.package_name }}.config import ENV_PREFIX
from {{ cookiecutter.package_name }}.serve import main, parse_arguments


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
    ("given", "message"),
    [("0", "must be at least 1, not 0"), ("two", "'two' is not a whole number")],
)
def test_a_worker_count_that_is_not_a_positive_whole_number_is_refused(
    given: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_arguments(["--workers", given])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


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
