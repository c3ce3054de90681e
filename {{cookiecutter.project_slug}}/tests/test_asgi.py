from __future__ import annotations

import importlib

import pytest
from quart import Quart

from {{ cookiecutter.package_name }}.config import ENV_PREFIX


def test_the_asgi_module_builds_the_app_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}ENVIRONMENT", "testing")

    module = importlib.import_module("{{ cookiecutter.package_name }}.asgi")

    assert isinstance(module.app, Quart)
    assert module.app.config["TESTING"] is True
