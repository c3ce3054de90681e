"""Without uv on PATH, a rendered project's `make test` installs with python3 -m venv and pip."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import project_env, render, run


def path_without_uv() -> str:
    kept = [
        folder
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if folder and not (Path(folder) / "uv").exists()
    ]
    return os.pathsep.join(kept)


def test_make_test_works_with_venv_and_pip_alone(tmp_path: Path) -> None:
    project = render(tmp_path)
    env = project_env(PATH=path_without_uv())
    env.pop("UV_PYTHON")

    output = run(["make", "test"], cwd=project, env=env).stdout

    assert "pip install" in output
    assert "uv sync" not in output
    assert " passed" in output
    assert (project / ".venv" / "bin" / "pip").exists()
