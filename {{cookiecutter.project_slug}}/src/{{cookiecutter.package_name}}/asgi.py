"""The ASGI app object, for any ASGI server: ``{{ cookiecutter.package_name }}.asgi:app``."""

import gc

from pydantic import ValidationError

from .app import create_app
from .config import refusal

try:
    app = create_app()
except ValidationError as error:
    # Imported by a server started by hand, or by the `quart` command: one line per problem,
    # as serve.py prints them, rather than a traceback.
    raise SystemExit(refusal(error)) from None

# What is loaded by now (modules, the app) lives as long as the process: keep it out of the
# garbage collector's full passes, which otherwise pause a loaded worker for ~40 ms each.
gc.freeze()
