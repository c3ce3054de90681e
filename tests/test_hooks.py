"""The hooks and filters, unit by unit: validation sentences, quoting, post-generation steps."""

from __future__ import annotations

import ast
import json
import sys
import tomllib
import types
from pathlib import Path
from typing import Any

import pytest
from conftest import BIN, TEMPLATE, run
from jinja2 import Environment

from hooks.filters import py_str, toml_str

DEFAULTS: dict[str, Any] = {
    "project_name": "My Service",
    "project_slug": "my-service",
    "package_name": "my_service",
    "description": "A Quart microservice.",
    "author_name": "Your Name",
    "author_email": "you@example.com",
    "version": "0.1.0",
    "python_version": "3.11",
    "license": "MIT",
    "database": "sqlite",
    "server": "hypercorn",
    "auth": "jwt",
    "rate_limit": "memory",
}
HOSTILE_TEXTS = [
    "plain",
    'Bob\'s "quoted" service',
    'only "double"',
    "only 'single'",
    "back\\slash and \\n not a newline",
    "new\nline\ttab\rreturn",
    "control \x00 \x01 \x1f \x7f chars",
    "Zoë — 日本語 🚀",
    "{{ cookiecutter.project_name }} {% if %}",
    "\"\"\"triple\"\"\" and '''triple'''",
    "$(touch /tmp/pwned) `id` ; rm -rf / #",
    "",
]


def hook_source(name: str, answers: dict[str, Any]) -> str:
    template = (TEMPLATE / "hooks" / name).read_text(encoding="utf-8")
    return (
        Environment(autoescape=False, keep_trailing_newline=True)
        .from_string(template)
        .render(cookiecutter=answers)
    )


def load_hook(name: str, answers: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(name.removesuffix(".py"))
    exec(compile(hook_source(name, answers), name, "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_toml_str_round_trips(text: str) -> None:
    assert tomllib.loads(f"value = {toml_str(text)}")["value"] == text


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_py_str_round_trips(text: str) -> None:
    assert ast.literal_eval(py_str(text)) == text


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_py_str_is_already_ruff_formatted(text: str, tmp_path: Path) -> None:
    source = tmp_path / "literal.py"
    source.write_text(f"VALUE = {py_str(text)}\n", encoding="utf-8")
    run([str(BIN / "ruff"), "format", "--check", "--no-cache", str(source)], cwd=tmp_path)


@pytest.mark.parametrize("name", ["pre_gen_project.py", "post_gen_project.py"])
def test_rendered_hooks_read_hostile_answers_as_data(name: str) -> None:
    answers = {
        **DEFAULTS,
        "project_name": HOSTILE_TEXTS[9],
        "description": "\n".join(HOSTILE_TEXTS),
    }
    module = load_hook(name, answers)
    assert answers == module.ANSWERS


@pytest.mark.parametrize("name", ["pre_gen_project.py", "post_gen_project.py"])
def test_rendered_hooks_pass_ruff_check(name: str, tmp_path: Path) -> None:
    # Not `ruff format`: the rendered ANSWERS line is data, as long as the answers are.
    source = tmp_path / name
    source.write_text(hook_source(name, DEFAULTS), encoding="utf-8")
    run([str(BIN / "ruff"), "check", "--no-cache", str(source)], cwd=TEMPLATE)


def test_hooks_use_only_the_standard_library() -> None:
    for name in ("pre_gen_project.py", "post_gen_project.py"):
        tree = ast.parse(hook_source(name, DEFAULTS))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                for module in modules:
                    top = module.split(".")[0]
                    assert top == "__future__" or top in sys.stdlib_module_names, (name, module)


def test_defaults_are_valid() -> None:
    assert load_hook("pre_gen_project.py", DEFAULTS).problems(DEFAULTS) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"author_email": "first.last+tag@sub.example.co.uk"},
        {"project_slug": "quart-shop", "package_name": "quart_shop"},
        {"project_slug": "testing", "package_name": "tested"},
    ],
)
def test_unusual_valid_answers_pass(changes: dict[str, str]) -> None:
    answers = {**DEFAULTS, **changes}
    assert load_hook("pre_gen_project.py", answers).problems(answers) == []


@pytest.mark.parametrize(
    ("changes", "sentence"),
    [
        ({"project_name": "  "}, "project_name must not be empty."),
        ({"project_slug": ""}, "project_slug '' is not valid"),
        ({"project_slug": "1service"}, "project_slug '1service' is not valid"),
        ({"project_slug": "My-Service"}, "project_slug 'My-Service' is not valid"),
        ({"project_slug": "my--service"}, "project_slug 'my--service' is not valid"),
        ({"project_slug": "my_service"}, "project_slug 'my_service' is not valid"),
        ({"package_name": ""}, "package_name '' is not a valid package name"),
        ({"package_name": "2fast"}, "package_name '2fast' is not a valid package name"),
        ({"package_name": "My_Service"}, "package_name 'My_Service' is not a valid package name"),
        ({"package_name": "my-service"}, "package_name 'my-service' is not a valid package name"),
        ({"package_name": "class"}, "package_name 'class' is a Python keyword"),
        ({"package_name": "match"}, "package_name 'match' is a Python keyword"),
        ({"package_name": "json"}, "package_name 'json' would shadow the module"),
        ({"package_name": "quart"}, "package_name 'quart' would shadow the module"),
        ({"version": "one"}, "version 'one' is not a PEP 440 version"),
        ({"package_name": "test"}, "package_name 'test' would shadow the module"),
        ({"package_name": "jwt"}, "package_name 'jwt' would shadow the module"),
        ({"package_name": "redis"}, "package_name 'redis' would shadow the module"),
        ({"project_slug": "uvicorn"}, "project_slug 'uvicorn' names a package the project"),
        ({"project_slug": "pyjwt"}, "project_slug 'pyjwt' names a package the project"),
        ({"project_slug": "quart-schema"}, "project_slug 'quart-schema' names a package"),
        ({"author_email": "nobody"}, "author_email 'nobody' is not an email address."),
        # Addresses a regular expression would let through and the build backend refuses.
        ({"author_email": "zoë@example.com"}, "author_email 'zoë@example.com' is not an email"),
        ({"author_email": "a..b@example.com"}, "author_email 'a..b@example.com' is not an"),
        ({"author_email": "a,b@example.com"}, "author_email 'a,b@example.com' is not an"),
        ({"author_email": ".a@example.com"}, "author_email '.a@example.com' is not an"),
        ({"author_email": "a@b..com"}, "author_email 'a@b..com' is not an email"),
        ({"database": "mysql"}, "database must be one of sqlite, postgresql, not 'mysql'."),
        ({"license": "WTFPL"}, "license must be one of"),
        ({"python_version": "3.10"}, "python_version must be one of 3.11, 3.12, 3.13"),
    ],
)
def test_invalid_answers_are_named_in_one_sentence(changes: dict[str, str], sentence: str) -> None:
    answers = {**DEFAULTS, **changes}
    found = load_hook("pre_gen_project.py", answers).problems(answers)
    assert len(found) == 1
    assert found[0].startswith(sentence)
    assert found[0].endswith(".")


@pytest.mark.parametrize(
    ("changes", "removed"),
    [
        ({}, {"tests/test_pool.py"}),
        (
            {"database": "postgresql", "server": "uvicorn"},
            {"src/my_service/sqlite.py", "tests/test_sqlite.py", "hypercorn.toml"},
        ),
        (
            {"server": "granian", "auth": "none", "rate_limit": "none"},
            {
                "tests/test_pool.py",
                "hypercorn.toml",
                "src/my_service/workers.py",
                "tests/test_workers.py",
                "src/my_service/auth.py",
                "tests/test_auth.py",
                "src/my_service/ratelimit.py",
                "tests/test_ratelimit.py",
            },
        ),
        ({"rate_limit": "redis"}, {"tests/test_pool.py"}),
    ],
)
def test_post_gen_removes_exactly_the_files_the_answers_do_not_use(
    tmp_path: Path, changes: dict[str, str], removed: set[str]
) -> None:
    answers = {**DEFAULTS, **changes}
    module = load_hook("post_gen_project.py", answers)
    every = {
        path.format(package=answers["package_name"])
        for paths in module.UNUSED_WHEN.values()
        for path in paths
    }
    for path in every:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    module.remove_unused(tmp_path, answers)
    left = {path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*") if path.is_file()}
    assert left == every - removed


def test_post_gen_writes_a_secret_only_into_dotenv(tmp_path: Path) -> None:
    module = load_hook("post_gen_project.py", DEFAULTS)
    example = "# comment\nX_ENVIRONMENT=development\nX_SECRET_KEY=\nX_LOG_LEVEL=INFO\n"
    (tmp_path / ".env.example").write_text(example)
    module.write_dotenv(tmp_path, lambda: "s3cr3t")
    assert (tmp_path / ".env").read_text() == example.replace(
        "X_SECRET_KEY=", "X_SECRET_KEY=s3cr3t"
    )
    assert (tmp_path / ".env.example").read_text() == example


def test_post_gen_records_answers_without_machine_paths(tmp_path: Path) -> None:
    module = load_hook("post_gen_project.py", DEFAULTS)
    module.record_answers(
        tmp_path, {**DEFAULTS, "_template": "gh:org/quart-skeleton", "_output_dir": "/home/me"}
    )
    recorded = json.loads((tmp_path / ".cookiecutter.json").read_text())
    assert recorded == {**DEFAULTS, "_template": "gh:org/quart-skeleton"}
