"""Jinja filters that write answers into generated source as safe string literals.

Cookiecutter loads this module through ``_extensions`` in cookiecutter.json; the template
directory is on ``sys.path`` while it renders.
"""

from __future__ import annotations

from jinja2 import Environment
from jinja2.ext import Extension

_NAMED_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(value: str, quote: str) -> str:
    out = []
    for char in value:
        code = ord(char)
        if char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif char == quote:
            out.append("\\" + quote)
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return quote + "".join(out) + quote


def toml_str(value: object) -> str:
    """A TOML basic string holding ``value`` exactly."""
    return _escape(str(value), '"')


def py_str(value: object) -> str:
    """A Python string literal holding ``value``, quoted as ``ruff format`` would (fewest escapes)."""
    text = str(value)
    quote = "'" if text.count('"') > text.count("'") else '"'
    return _escape(text, quote)


class QuotingExtension(Extension):
    """Adds the ``toml_str`` and ``py_str`` filters."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["toml_str"] = toml_str
        environment.filters["py_str"] = py_str
