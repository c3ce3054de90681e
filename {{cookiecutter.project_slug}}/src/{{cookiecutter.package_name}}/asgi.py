"""The ASGI app object, for any ASGI server: ``{{ cookiecutter.package_name }}.asgi:app``."""

import gc

from .app import create_app

app = create_app()

# What is loaded by now (modules, the app) lives as long as the process: keep it out of the
# garbage collector's full passes, which otherwise pause a loaded worker for ~40 ms each.
gc.freeze()
