"""Rendered projects install, lint (ruff, mypy --strict), migrate and pass their own tests.

A pairwise set of the options that change code or the interpreter: every pair of choices of
any two of them (Python, database, server, auth, rate limiting) is installed and tested
together (the defaults are installed and tested by test_hostile and make demo).
Licences change no code; each still appears once. Every full combination is rendered and
linted by test_matrix.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CHOICES, project_env, render, run
from test_hooks import DEFAULTS, load_hook

CODE_OPTIONS = ("python_version", "database", "server", "auth", "rate_limit")
PAIRWISE = [
    dict(zip((*CODE_OPTIONS, "license"), row, strict=True))
    for row in [
        ("3.11", "postgresql", "hypercorn", "jwt", "memory", "MIT"),
        ("3.11", "sqlite", "uvicorn", "jwt", "none", "BSD-3-Clause"),
        ("3.11", "postgresql", "granian", "none", "redis", "Apache-2.0"),
        ("3.12", "postgresql", "hypercorn", "none", "none", "GPL-3.0-only"),
        ("3.12", "sqlite", "uvicorn", "none", "redis", "Proprietary"),
        ("3.12", "sqlite", "granian", "jwt", "memory", "MIT"),
        ("3.13", "sqlite", "hypercorn", "jwt", "redis", "MIT"),
        ("3.13", "postgresql", "uvicorn", "none", "memory", "MIT"),
        ("3.13", "postgresql", "granian", "jwt", "none", "MIT"),
    ]
]


def test_the_pairwise_set_covers_every_pair_of_choices() -> None:
    for first, second in itertools.combinations(CODE_OPTIONS, 2):
        pairs = {(answers[first], answers[second]) for answers in PAIRWISE}
        assert pairs == set(itertools.product(CHOICES[first], CHOICES[second])), (first, second)
    assert {answers["license"] for answers in PAIRWISE} == set(CHOICES["license"])


def make(project: Path, target: str, env: dict[str, str]) -> str:
    return run(["make", target], cwd=project, env=env).stdout


@pytest.mark.parametrize(
    "answers", PAIRWISE, ids=["-".join(answers.values()) for answers in PAIRWISE]
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
    # make wrote uv.lock, and it holds as the Dockerfile and CI (UV_LOCKED) will check it.
    run(["uv", "sync", "--locked", "--dry-run"], project, env)

    interpreter = run(
        [".venv/bin/python", "-c", "import sys; print(sys.version_info[:2])"], project, env
    )
    assert interpreter.stdout.strip() == str(
        tuple(int(n) for n in answers["python_version"].split("."))
    )

    make(project, "migrate", env)
    run([".venv/bin/alembic", "check"], cwd=project, env=env)

    # The pre-gen hook refuses a package or project named like anything the project installs.
    hook = load_hook("pre_gen_project.py", DEFAULTS)
    listing = "import importlib.metadata as m, json; print(json.dumps(m.packages_distributions()))"
    installed = json.loads(run([".venv/bin/python", "-c", listing], project, env).stdout)
    modules = {name for name in installed if name.isidentifier() and name[0] != "_"}
    assert modules - {"stock_room"} - hook.RESERVED_PACKAGES == set()
    distributions = {
        re.sub(r"[-_.]+", "-", name).lower() for names in installed.values() for name in names
    }
    renamed = {name for name in distributions if name.replace("-", "_") not in modules}
    assert renamed - {"stock-room"} - hook.RENAMED_DISTRIBUTIONS == set()
