"""Every choice of every prompt, in every combination, renders clean and lints clean."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, CHOICES, render
from test_render import leftovers, parse_structured_files

COMBINATIONS = [
    dict(zip(CHOICES, values, strict=True)) for values in itertools.product(*CHOICES.values())
]


def test_the_matrix_covers_every_choice() -> None:
    for key, values in CHOICES.items():
        assert {combination[key] for combination in COMBINATIONS} == set(values)


@pytest.mark.parametrize("answers", COMBINATIONS, ids=["-".join(c.values()) for c in COMBINATIONS])
def test_combination_renders_and_lints(tmp_path: Path, answers: dict[str, str]) -> None:
    project = render(tmp_path, **answers)

    assert leftovers(project) == []
    assert parse_structured_files(project) >= 3
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [str(BIN / "ruff"), *command, "--no-cache", "."],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
