from __future__ import annotations

import gc
import importlib
import sys
from pathlib import Path

import pytest
from quart import Quart

from {{ cookiecutter.package_name }}.config import ENV_PREFIX

MODULE = "{{ cookiecutter.package_name }}.asgi"


def test_the_asgi_module_builds_the_app_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env: only what is set here
    monkeypatch.setenv(f"{ENV_PREFIX}ENVIRONMENT", "testing")
    monkeypatch.setenv(f"{ENV_PREFIX}SECRET_KEY", "s" * 40)
{%- if cookiecutter.auth == "jwt" %}
    monkeypatch.setenv(f"{ENV_PREFIX}JWT_SECRET_KEY", "j" * 40)
{%- endif %}
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    gc.unfreeze()
    try:
        module = importlib.import_module(MODULE)
        # What the import loaded is kept out of the garbage collector's full passes.
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()

    assert isinstance(module.app, Quart)
    assert module.app.config["TESTING"] is True


def test_invalid_settings_stop_the_import_with_one_line_each(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv(f"{ENV_PREFIX}ENVIRONMENT", "development")
    monkeypatch.setenv(f"{ENV_PREFIX}LOG_LEVEL", "LOUD")
    monkeypatch.delitem(sys.modules, MODULE, raising=False)

    with pytest.raises(SystemExit) as stopped:
        importlib.import_module(MODULE)

    heading, *problems = str(stopped.value).splitlines()
    assert heading == "Cannot start: the settings are invalid."
    assert [problem.split(":")[0] for problem in problems] == [f"{ENV_PREFIX}LOG_LEVEL"]
