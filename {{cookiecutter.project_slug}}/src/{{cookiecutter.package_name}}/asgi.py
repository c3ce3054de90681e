"""The ASGI entry point for servers: ``hypercorn {{ cookiecutter.package_name }}.asgi:app``."""

from .app import create_app

app = create_app()
