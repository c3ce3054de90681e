"""The serving command's own arguments, before any server starts."""

from __future__ import annotations

import subprocess
import sys
{%- if cookiecutter.server == "hypercorn" %}
from pathlib import Path
{%- endif %}

import pytest

{% if cookiecutter.server == "hypercorn" -%}
from {{ cookiecutter.package_name }}.config import ENV_PREFIX
{% endif -%}
from {{ cookiecutter.package_name }}.serve import {% if cookiecutter.server == "hypercorn" %}main, {% endif %}parse_arguments


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
{%- if cookiecutter.server == "hypercorn" %}


def test_serving_away_from_the_server_settings_says_where_they_are(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no hypercorn.toml, no .env
    monkeypatch.setenv(f"{ENV_PREFIX}ENVIRONMENT", "development")
{%- if cookiecutter.auth == "jwt" %}
    monkeypatch.setenv(f"{ENV_PREFIX}JWT_SECRET_KEY", "j" * 40)
{%- endif %}

    assert main(["--port", "1"]) == 2

    assert capsys.readouterr().err == (
        "Cannot start: there is no hypercorn.toml here; serve from the project's folder, "
        "or give its path with --config.\n"
    )
{%- endif %}
