from __future__ import annotations

import gc
import importlib
import sys

import pytest
from quart import Quart

from {{ cookiecutter.package_name }}.config import ENV_PREFIX

MODULE = "{{ cookiecutter.package_name }}.asgi"


def test_the_asgi_module_builds_the_app_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}ENVIRONMENT", "testing")
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
