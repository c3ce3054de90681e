"""Hostile answers render into valid files, keep their exact text, and execute nothing."""

from __future__ import annotations

import ast
import json
import tomllib
from pathlib import Path

from conftest import TEMPLATE, project_env, run
from cookiecutter.main import cookiecutter


def hostile_answers(marker: Path) -> dict[str, str]:
    shell = f"$(touch {marker}) `touch {marker}`; touch {marker}"
    python = f"__import__('os').system('touch {marker}')"
    return {
        "project_slug": "hostile-service",
        "package_name": "hostile_service",
        "project_name": 'Zoë\'s "Quoted" \\ Service {{ 7 * 7 }} {% if %}',
        "description": f"Line one\nLine two: 'single', \"double\", \\back\\slash, {{{{ x }}}}, {{% raw %}}, {shell}, {python}, 日本語 🚀",
        "author_name": "O'Brien \"Bobby\" Tables'); DROP TABLE students;--",
        "author_email": "o.brien+tag@example.com",
        "version": "1.0.0",
    }


def test_hostile_answers_render_valid_files_and_run_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    answers = hostile_answers(marker)
    # A replay file gives answers as plain data, exactly as an interactive user types them
    # (--no-input extra_context values are themselves Jinja-rendered by cookiecutter).
    # A replay file must hold every key, the template's private ones included.
    context = {**json.loads((TEMPLATE / "cookiecutter.json").read_text()), **answers}
    context = {
        key: value[0] if isinstance(value, list) and not key.startswith("_") else value
        for key, value in context.items()
    }
    replay = tmp_path / "hostile.json"
    replay.write_text(json.dumps({"cookiecutter": context}), encoding="utf-8")

    project = Path(
        cookiecutter(str(TEMPLATE), replay=str(replay), output_dir=str(tmp_path / "out"))
    )

    assert not marker.exists()
    assert project.name == "hostile-service"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert pyproject["description"] == answers["description"]
    assert pyproject["authors"] == [
        {"name": answers["author_name"], "email": answers["author_email"]}
    ]
    app_source = (project / "src" / "hostile_service" / "app.py").read_text(encoding="utf-8")
    titles = [
        node.value.value
        for node in ast.walk(ast.parse(app_source))
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and any(isinstance(target, ast.Name) and target.id == "TITLE" for target in node.targets)
    ]
    assert titles == [answers["project_name"]]
    recorded = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    assert {key: recorded[key] for key in answers} == answers
    assert answers["author_name"] in (project / "LICENSE").read_text(encoding="utf-8")

    env = project_env()
    run(["make", "lint"], cwd=project, env=env)
    output = run(["make", "test"], cwd=project, env=env).stdout
    assert " passed" in output
    assert not marker.exists()
    assert not any(path.name == "PWNED" for path in project.rglob("*"))
