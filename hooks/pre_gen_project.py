"""Validate the answers before anything is written.

On a bad answer this prints one sentence (the first problem found) and exits non-zero; cookiecutter then removes the
half-made output folder. Standard library only, so it runs wherever cookiecutter does.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from email.errors import HeaderParseError
from email.headerregistry import Address

ANSWERS = json.loads({{ cookiecutter | tojson | tojson }})

SLUG_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
PACKAGE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# PEP 440, public version identifiers (canonical form not required).
VERSION_RE = re.compile(r"^(?:\d+!)?\d+(?:\.\d+)*(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?$")
EMAIL_RE = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
# Names a generated package must not take: the project's own folders, the standard library's
# test package, and every module that a project installs with any of the options (its
# dependencies, theirs, and its dev tools). An installed module comes first on sys.path, so a
# package of the same name could not be imported. tests/test_project.py checks that this
# covers what rendered projects really install.
RESERVED_PACKAGES = frozenset(
    {
        "aiofiles",
        "aiosqlite",
        "alembic",
        "annotated_types",
        "anyio",
        "ast_serialize",
        "async_timeout",
        "asyncpg",
        "blinker",
        "certifi",
        "cffi",
        "charset_normalizer",
        "click",
        "coverage",
        "cryptography",
        "dotenv",
        "flask",
        "granian",
        "graphql",
        "greenlet",
        "h11",
        "h2",
        "harfile",
        "hpack",
        "httpcore",
        "httptools",
        "httpx",
        "hypercorn",
        "hyperframe",
        "hypothesis",
        "hypothesis_graphql",
        "idna",
        "iniconfig",
        "itsdangerous",
        "jinja2",
        "jsonschema_rs",
        "jwt",
        "librt",
        "mako",
        "markdown_it",
        "markupsafe",
        "mdurl",
        "migrations",
        "mypy",
        "mypy_extensions",
        "mypyc",
        "packaging",
        "pathspec",
        "pluggy",
        "priority",
        "py",
        "pycparser",
        "pydantic",
        "pydantic_core",
        "pydantic_settings",
        "pygments",
        "pyrate_limiter",
        "pytest",
        "pytest_asyncio",
        "quart",
        "quart_cors",
        "quart_rate_limiter",
        "quart_schema",
        "redis",
        "requests",
        "rich",
        "ruff",
        "schemathesis",
        "sortedcontainers",
        "sqlalchemy",
        "test",
        "tests",
        "typing_extensions",
        "typing_inspection",
        "urllib3",
        "uvicorn",
        "uvloop",
        "watchfiles",
        "websockets",
        "werkzeug",
        "wsproto",
        "yaml",
    }
)
# The distributions among them whose names are not their modules': a project may not take these
# names either (it would depend on itself).
RENAMED_DISTRIBUTIONS = frozenset(
    {"graphql-core", "markdown-it-py", "pyjwt", "python-dotenv", "pyyaml"}
)
CHOICES = {
    "python_version": ("3.11", "3.12", "3.13"),
    "license": ("MIT", "BSD-3-Clause", "Apache-2.0", "GPL-3.0-only", "Proprietary"),
    "database": ("sqlite", "postgresql"),
    "server": ("hypercorn", "uvicorn", "granian"),
    "auth": ("jwt", "none"),
    "rate_limit": ("memory", "none", "redis"),
}


def is_email(text: str) -> bool:
    """Whether ``text`` is an address that packaging tools (hatchling) accept as an author's."""
    if not EMAIL_RE.match(text):
        return False
    try:
        Address(addr_spec=text)
    except (HeaderParseError, IndexError, ValueError):
        return False
    return True


def problems(answers: dict[str, object]) -> list[str]:
    """Every reason the answers cannot produce a working project, as sentences."""
    found: list[str] = []
    name = str(answers["project_name"])
    slug = str(answers["project_slug"])
    package = str(answers["package_name"])

    if not name.strip():
        found.append("project_name must not be empty.")
    if not SLUG_RE.match(slug):
        found.append(
            f"project_slug {slug!r} is not valid: use lowercase letters, digits and single "
            "hyphens, starting with a letter (for example 'my-service')."
        )
    if not PACKAGE_RE.match(package):
        found.append(
            f"package_name {package!r} is not a valid package name: use lowercase letters, "
            "digits and underscores, starting with a letter (for example 'my_service')."
        )
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        found.append(f"package_name {package!r} is a Python keyword; choose another name.")
    elif package in sys.stdlib_module_names or package in RESERVED_PACKAGES:
        found.append(
            f"package_name {package!r} would shadow the module of that name; choose another name."
        )
    if SLUG_RE.match(slug) and (
        slug in RENAMED_DISTRIBUTIONS or slug.replace("-", "_") in RESERVED_PACKAGES
    ):
        found.append(
            f"project_slug {slug!r} names a package the project installs; choose another name."
        )
    if not VERSION_RE.match(str(answers["version"])):
        found.append(
            f"version {answers['version']!r} is not a PEP 440 version (for example '0.1.0')."
        )
    if not is_email(str(answers["author_email"])):
        found.append(f"author_email {answers['author_email']!r} is not an email address.")
    for key, allowed in CHOICES.items():
        if answers[key] not in allowed:
            found.append(f"{key} must be one of {', '.join(allowed)}, not {answers[key]!r}.")
    return found


def main() -> int:
    found = problems(ANSWERS)
    if found:
        print(f"ERROR: {found[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
