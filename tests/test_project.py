"""Rendered projects install, lint (ruff, mypy --strict), migrate and pass their own tests.

Every combination of the options that change code or the interpreter is covered: the
database, and each supported Python (Quart 0.22 on 3.11/3.12, 0.23 on 3.13).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CHOICES, project_env, render, run

CODE_COMBINATIONS = [
    {"database": database, "python_version": version}
    for database in CHOICES["database"]
    for version in CHOICES["python_version"]
]


def make(project: Path, target: str, env: dict[str, str]) -> str:
    return run(["make", target], cwd=project, env=env).stdout


@pytest.mark.parametrize(
    "answers",
    CODE_COMBINATIONS,
    ids=[f"{c['database']}-py{c['python_version']}" for c in CODE_COMBINATIONS],
)
def test_project_lints_migrates_and_passes_its_tests(
    tmp_path: Path, answers: dict[str, str], postgres_database: Callable[[], str]
) -> None:
    project = render(tmp_path, project_name="Stock Room", **answers)
    env = project_env(answers["python_version"])
    if answers["database"] == "postgresql":
        # Both the service's own database and the one its tests empty are throwaway ones.
        env["STOCK_ROOM_TEST_DATABASE_URL"] = postgres_database()
        env["STOCK_ROOM_DATABASE_URL"] = postgres_database()

    make(project, "lint", env)
    output = make(project, "test", env)
    assert " passed" in output
    assert " failed" not in output

    interpreter = run(
        [".venv/bin/python", "-c", "import sys; print(sys.version_info[:2])"], project, env
    )
    assert interpreter.stdout.strip() == str(
        tuple(int(n) for n in answers["python_version"].split("."))
    )

    make(project, "migrate", env)
    run([".venv/bin/alembic", "check"], cwd=project, env=env)
