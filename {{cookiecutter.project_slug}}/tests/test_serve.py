"""The serving command's own arguments, before any server starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from {{ cookiecutter.package_name }}.serve import parse_arguments


def test_help_names_the_command_even_with_docstrings_stripped() -> None:
    # python -OO (or PYTHONOPTIMIZE=2, as some images set) removes every docstring.
    command = [sys.executable, "-OO", "-m", "{{ cookiecutter.package_name }}.serve", "--help"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m {{ cookiecutter.package_name }}.serve ")
    assert "--workers WORKERS" in result.stdout


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
