"""Finish the generated project: licence, development settings and recorded answers.

Runs inside the new project folder. Standard library only and no network, so it works
offline and on Windows.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

ANSWERS = json.loads({{ cookiecutter | tojson | tojson }})

# Keys cookiecutter adds that describe this machine, not the project.
MACHINE_KEYS = ("_output_dir", "_repo_dir", "_checkout")
# Files that only one choice of an option uses: (option, choice) -> files to delete
# ({package} is the package name).
UNUSED_WHEN = {
    ("database", "sqlite"): ["tests/test_pool.py"],
    ("database", "postgresql"): ["src/{package}/sqlite.py", "tests/test_sqlite.py"],
    ("server", "uvicorn"): ["hypercorn.toml"],
    ("server", "granian"): [
        "hypercorn.toml",
        "src/{package}/workers.py",
        "tests/test_workers.py",
    ],
    ("auth", "none"): ["src/{package}/auth.py", "tests/test_auth.py"],
    ("rate_limit", "none"): [
        "src/{package}/ratelimit.py",
        "tests/test_ratelimit.py",
    ],
}


def install_license(project: Path, choice: str) -> None:
    """Keep the chosen licence as LICENSE and drop the others."""
    licenses = project / "licenses"
    shutil.copyfile(licenses / choice, project / "LICENSE")
    shutil.rmtree(licenses)


def write_dotenv(project: Path, secret: Callable[[], str]) -> None:
    """Create the development .env from .env.example, with fresh random secret keys."""
    lines = []
    for line in (project / ".env.example").read_text(encoding="utf-8").splitlines():
        key, sep, _ = line.partition("=")
        if sep and key.endswith("_SECRET_KEY"):
            line = f"{key}={secret()}"
        lines.append(line)
    (project / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")


def record_answers(project: Path, answers: dict[str, object]) -> None:
    """Save the answers so the project can be regenerated or updated later."""
    kept = {key: value for key, value in answers.items() if key not in MACHINE_KEYS}
    text = json.dumps(kept, indent=2, ensure_ascii=False) + "\n"
    (project / ".cookiecutter.json").write_text(text, encoding="utf-8")


def remove_unused(project: Path, answers: dict[str, object]) -> None:
    """Delete the files that belong to options not chosen."""
    for (key, value), paths in UNUSED_WHEN.items():
        if answers[key] == value:
            for path in paths:
                (project / path.format(package=answers["package_name"])).unlink()


def main() -> None:
    project = Path.cwd()
    remove_unused(project, ANSWERS)
    install_license(project, str(ANSWERS["license"]))
    write_dotenv(project, lambda: secrets.token_urlsafe(48))
    record_answers(project, ANSWERS)


if __name__ == "__main__":
    main()
