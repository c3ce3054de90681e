"""Rendering: the real command line and the API, leftovers, file sets, answers and failures."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import BIN, CHOICES, TEMPLATE, project_env, render, run

LEFTOVER = re.compile(r"\{\{|\{%|%\}|\}\}|(?<!\.)cookiecutter\.(?!json\b)")
# Files that may legitimately contain braces: Alembic's own Mako template.
MAKO = {"migrations/script.py.mako"}


def leftovers(project: Path) -> list[str]:
    found = []
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project).as_posix()
        if not path.is_file() or relative in MAKO or relative.startswith(".venv/"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if LEFTOVER.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    return found


def long_prose_lines(project: Path, width: int = 100) -> list[str]:
    """Lines of Markdown prose wider than ``width``, outside tables and code blocks: the mark
    of an ``{% if %}`` that joined two lines in some combination of answers."""
    found = []
    for path in sorted(project.glob("*.md")):
        fenced = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                fenced = not fenced
            elif not fenced and not line.startswith("|") and len(line) > width:
                found.append(f"{path.name}:{number}: {line}")
    return found


def parse_structured_files(project: Path) -> int:
    """Parse every TOML, JSON and YAML file; how many there were."""
    count = 0
    for path in project.rglob("*"):
        if path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        else:
            continue
        count += 1
    return count


def test_the_command_line_renders_the_defaults(tmp_path: Path) -> None:
    run(
        [str(BIN / "cookiecutter"), "--no-input", "--output-dir", str(tmp_path), str(TEMPLATE)],
        tmp_path,
    )

    project = tmp_path / "my-service"
    assert (project / "src" / "my_service" / "app.py").is_file()
    assert leftovers(project) == []
    assert parse_structured_files(project) >= 3
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "my-service"
    assert pyproject["project"]["requires-python"] == ">=3.11"
    assert "aiosqlite>=0.22" in pyproject["project"]["dependencies"]
    assert not (project / "tests" / "test_pool.py").exists()
    assert not (project / "licenses").exists()
    assert (project / "LICENSE").read_text().startswith("MIT License")
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    assert "services" not in workflow["jobs"]["check"]
    runs = [step.get("run") for step in workflow["jobs"]["check"]["steps"]]
    assert runs[-2:] == ["make lint", "make test"]
    # CI, the image and the template's own tools lock with one uv version.
    setup_uv = next(
        step for step in workflow["jobs"]["check"]["steps"] if "setup-uv" in step.get("uses", "")
    )
    uv_version = setup_uv["with"]["version"]
    assert f"ghcr.io/astral-sh/uv:{uv_version} " in (project / "Dockerfile").read_text()
    template_tools = tomllib.loads((TEMPLATE / "pyproject.toml").read_text())
    assert f"uv=={uv_version}" in template_tools["dependency-groups"]["dev"]


def test_the_api_renders_overrides(tmp_path: Path) -> None:
    project = render(
        tmp_path,
        project_name="Order Desk",
        description="Takes orders.",
        author_name="Ada Lovelace",
        author_email="ada@example.org",
        version="2.0.0rc1",
        python_version="3.13",
        license="Apache-2.0",
        database="postgresql",
    )

    assert project.name == "order-desk"
    assert (project / "src" / "order_desk" / "app.py").is_file()
    assert leftovers(project) == []
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert pyproject["version"] == "2.0.0rc1"
    assert pyproject["description"] == "Takes orders."
    assert pyproject["requires-python"] == ">=3.13"
    assert pyproject["license"] == "Apache-2.0"
    assert pyproject["authors"] == [{"name": "Ada Lovelace", "email": "ada@example.org"}]
    assert "asyncpg>=0.30" in pyproject["dependencies"]
    assert not any("aiosqlite" in dependency for dependency in pyproject["dependencies"])
    assert not (project / "tests" / "test_sqlite.py").exists()
    assert not (project / "src" / "order_desk" / "sqlite.py").exists()
    assert (project / "tests" / "test_pool.py").exists()
    assert "Apache License" in (project / "LICENSE").read_text()
    assert "ORDER_DESK_DATABASE_URL=postgresql+asyncpg://" in (project / ".env.example").read_text()
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    assert workflow["jobs"]["check"]["services"]["postgres"]["ports"] == ["5432:5432"]


def test_slug_and_package_are_derived_from_any_name(tmp_path: Path) -> None:
    project = render(tmp_path, project_name="Zoë's Café & Bar!")
    assert project.name == "zoe-s-cafe-bar"
    assert (project / "src" / "zoe_s_cafe_bar" / "app.py").is_file()
    assert "ZOE_S_CAFE_BAR_DATABASE_URL" in (project / ".env.example").read_text()


def test_answers_are_recorded_for_later_updates(tmp_path: Path) -> None:
    project = render(tmp_path, project_name="Order Desk", database="postgresql")
    recorded = json.loads((project / ".cookiecutter.json").read_text())
    assert recorded["project_name"] == "Order Desk"
    assert recorded["database"] == "postgresql"
    assert recorded["_template"] == str(TEMPLATE)
    assert "_output_dir" not in recorded


def test_each_render_gets_its_own_development_secret(tmp_path: Path) -> None:
    def secret(project: Path) -> str:
        for line in (project / ".env").read_text().splitlines():
            if line.startswith("MY_SERVICE_SECRET_KEY="):
                return line.partition("=")[2]
        raise AssertionError("no secret in .env")

    first = secret(render(tmp_path / "a"))
    second = secret(render(tmp_path / "b"))
    assert len(first) >= 32
    assert first != second
    assert ".env\n" in (tmp_path / "a" / "my-service" / ".gitignore").read_text()


@pytest.mark.parametrize(
    ("answer", "sentence"),
    [
        ("project_slug=1st-service", "project_slug '1st-service' is not valid"),
        ("project_slug=My-Service", "project_slug 'My-Service' is not valid"),
        ("package_name=my-service", "package_name 'my-service' is not a valid package name"),
        ("package_name=import", "package_name 'import' is a Python keyword"),
        ("project_name=2048", "project_slug '2048' is not valid"),
        ("version=latest", "version 'latest' is not a PEP 440 version"),
    ],
)
def test_invalid_answers_fail_cleanly_with_one_sentence(
    tmp_path: Path, answer: str, sentence: str
) -> None:
    result = subprocess.run(
        [
            str(BIN / "cookiecutter"),
            "--no-input",
            "--output-dir",
            str(tmp_path),
            str(TEMPLATE),
            answer,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1
    assert errors[0].removeprefix("ERROR: ").startswith(sentence)
    assert list(tmp_path.iterdir()) == []


def test_auth_and_rate_limit_options_add_or_remove_whole_files(tmp_path: Path) -> None:
    default = render(tmp_path / "default")
    bare = render(tmp_path / "bare", auth="none", rate_limit="none")
    redis = render(tmp_path / "redis", rate_limit="redis")

    package = Path("src") / "my_service"
    for path in [package / "auth.py", Path("tests/test_auth.py"), package / "ratelimit.py"]:
        assert (default / path).is_file()
        assert not (bare / path).exists()
    dependencies = {
        name: tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
        for name, project in {"default": default, "bare": bare, "redis": redis}.items()
    }
    assert "pyjwt[crypto]>=2.10.1" in dependencies["default"]
    assert not any("jwt" in d or "rate-limiter" in d for d in dependencies["bare"])
    assert "redis>=5.2" in dependencies["redis"]
    assert not any(d.startswith("redis") for d in dependencies["default"])
    assert "token:" in (default / "Makefile").read_text()
    assert "token:" not in (bare / "Makefile").read_text()
    assert "JWT" not in (bare / ".env.example").read_text()
    assert "def require_scope" not in (bare / package / "app.py").read_text()
    workflow = yaml.safe_load((redis / ".github" / "workflows" / "ci.yml").read_text())
    assert workflow["jobs"]["check"]["services"]["redis"]["ports"] == ["6379:6379"]


def test_the_development_env_gets_its_own_random_secrets(tmp_path: Path) -> None:
    project = render(tmp_path)
    values = dict(
        line.split("=", 1)
        for line in (project / ".env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert len(values["MY_SERVICE_SECRET_KEY"]) >= 48
    assert len(values["MY_SERVICE_JWT_SECRET_KEY"]) >= 48
    assert values["MY_SERVICE_SECRET_KEY"] != values["MY_SERVICE_JWT_SECRET_KEY"]


@pytest.mark.parametrize("server", CHOICES["server"])
def test_the_dockerfile_builds_from_files_that_exist_and_serves_with_the_chosen_server(
    tmp_path: Path, server: str
) -> None:
    """Checked statically: no Docker engine here."""
    project = render(tmp_path, server=server, python_version="3.12")
    # The lock `make install` writes (the image installs exactly what it pins).
    run(["uv", "lock"], project, project_env("3.12"))
    lines = (project / "Dockerfile").read_text().splitlines()
    instructions = [line.split(None, 1) for line in lines if line and line[0] not in "# "]

    assert [rest for op, rest in instructions if op == "FROM"] == [
        "python:3.12-slim AS build",
        "python:3.12-slim",
    ]
    for op, rest in instructions:
        if op == "COPY" and not rest.startswith("--from"):
            *sources, _target = rest.split()
            for source in sources:
                assert list(project.glob(source)), f"COPY {source}: nothing in the project"
    syncs = [rest for op, rest in instructions if op == "RUN" and "uv sync" in rest]
    assert len(syncs) == 2
    assert all("--locked" in rest for rest in syncs)
    assert ("USER", "app") in [tuple(instruction) for instruction in instructions]
    command = json.loads(next(rest for op, rest in instructions if op == "CMD"))
    assert command[:3] == ["python", "-m", "my_service.serve"]
    serve = (project / "src" / "my_service" / "serve.py").read_text()
    assert f"import {server}" in serve or f"from {server}" in serve
    assert (project / "hypercorn.toml").exists() == (server == "hypercorn")
    ignored = (project / ".dockerignore").read_text().splitlines()
    assert {".env", ".venv"} <= set(ignored)
