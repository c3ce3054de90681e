"""Every choice of every prompt, in every combination, renders clean and lints clean."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from conftest import BIN, CHOICES, render, run
from test_render import leftovers, parse_structured_files

COMBINATIONS = [
    dict(zip(CHOICES, values, strict=True)) for values in itertools.product(*CHOICES.values())
]


@pytest.mark.parametrize("answers", COMBINATIONS, ids=["-".join(c.values()) for c in COMBINATIONS])
def test_combination_renders_and_lints(tmp_path: Path, answers: dict[str, str]) -> None:
    project = render(tmp_path, **answers)

    assert leftovers(project) == []
    assert parse_structured_files(project) >= 3
    run([str(BIN / "ruff"), "check", "--no-cache", "."], cwd=project)
    run([str(BIN / "ruff"), "format", "--check", "--no-cache", "."], cwd=project)
