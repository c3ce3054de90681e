"""Every combination of the options that change code renders clean and lints clean.

The licence changes no code (a LICENSE file and one pyproject field), so it takes each of its
choices in turn across the combinations instead of multiplying them by five.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from conftest import BIN, CHOICES, render, run
from test_render import leftovers, long_prose_lines, parse_structured_files

CODE_CHOICES = {key: values for key, values in CHOICES.items() if key != "license"}
COMBINATIONS = [
    {**dict(zip(CODE_CHOICES, values, strict=True)), "license": license}
    for values, license in zip(
        itertools.product(*CODE_CHOICES.values()), itertools.cycle(CHOICES["license"])
    )
]


def test_every_licence_is_in_the_matrix() -> None:
    assert {answers["license"] for answers in COMBINATIONS} == set(CHOICES["license"])


@pytest.mark.parametrize("answers", COMBINATIONS, ids=["-".join(c.values()) for c in COMBINATIONS])
def test_combination_renders_and_lints(tmp_path: Path, answers: dict[str, str]) -> None:
    project = render(tmp_path, **answers)

    assert leftovers(project) == []
    assert long_prose_lines(project) == []
    assert parse_structured_files(project) >= 3
    run([str(BIN / "ruff"), "check", "--no-cache", "."], cwd=project)
    run([str(BIN / "ruff"), "format", "--check", "--no-cache", "."], cwd=project)
