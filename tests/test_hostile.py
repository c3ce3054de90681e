"""Hostile answers render into valid files, keep their exact text, and execute nothing."""

from __future__ import annotations

import ast
import json
import tomllib
from pathlib import Path

import pytest
from conftest import BIN, TEMPLATE, project_env, run
from cookiecutter.exceptions import FailedHookException
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


def render_from_replay(tmp_path: Path, answers: dict[str, str]) -> Path:
    """Render with ``answers`` given as plain data, as typed at the prompts."""
    context = {**json.loads((TEMPLATE / "cookiecutter.json").read_text()), **answers}
    context = {
        key: value[0] if isinstance(value, list) and not key.startswith("_") else value
        for key, value in context.items()
    }
    replay = tmp_path / "hostile.json"
    replay.write_text(json.dumps({"cookiecutter": context}), encoding="utf-8")
    return Path(cookiecutter(str(TEMPLATE), replay=str(replay), output_dir=str(tmp_path / "out")))


def test_hostile_answers_render_valid_files_and_run_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    answers = hostile_answers(marker)
    # A replay file gives answers as plain data, exactly as an interactive user types them
    # (--no-input extra_context values are themselves Jinja-rendered by cookiecutter).
    # A replay file must hold every key, the template's private ones included.
    project = render_from_replay(tmp_path, answers)

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


TEXT_PROMPTS = [
    key
    for key, value in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items()
    if isinstance(value, str) and not key.startswith("_")
]
PAYLOADS = {
    "shell": "$(touch {marker}) `touch {marker}`; touch {marker} #",
    "python": (
        "'''+__import__('os').system('touch {marker}')+''' "
        '"+__import__("os").system("touch {marker}")+"'
    ),
    "jinja": "{{{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}}}{{% raw %}}",
    "structure": '"\n[tool.evil]\ncommand = "touch {marker}"\n#\\',
}


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("prompt", TEXT_PROMPTS)
def test_no_prompt_runs_an_injected_payload(tmp_path: Path, prompt: str, kind: str) -> None:
    """Each text answer, in turn, carries a payload: it is kept as text or refused, never run."""
    marker = tmp_path / "PWNED"
    payload = PAYLOADS[kind].format(marker=marker)
    answers = {"project_slug": "hostile-service", "package_name": "hostile_service"}
    answers[prompt] = payload

    try:
        project = render_from_replay(tmp_path, answers)
    except FailedHookException:
        # Refused by the pre-generation checks (slug, package, email, version): no file written.
        # (A slug with "/" leaves empty folders: cookiecutter makes them before any hook runs.)
        assert prompt in {"project_slug", "package_name", "author_email", "version"}
        assert not [path for path in (tmp_path / "out").rglob("*") if not path.is_dir()]
    else:
        recorded = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
        assert recorded[prompt] == payload
        run([str(BIN / "ruff"), "check", "--no-cache", "--select", "E9,F63,F7", "."], cwd=project)
        for path in project.rglob("*.toml"):
            tomllib.loads(path.read_text(encoding="utf-8"))
    assert not marker.exists()
