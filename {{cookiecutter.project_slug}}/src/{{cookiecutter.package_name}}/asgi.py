"""The ASGI app object, for any ASGI server: ``{{ cookiecutter.package_name }}.asgi:app``."""

from .app import create_app

app = create_app()
