"""The application factory: read it as the service's table of contents."""

from __future__ import annotations

import logging
from importlib.metadata import version

from quart import Quart
from quart_schema import Info, QuartSchema

from . import db
from .blueprints import health, items
from .config import Environment, Settings
from .errors import register_error_handlers
from .serialization import JSONProvider

TITLE = {{ cookiecutter.project_name | py_str }}
VERSION = version("{{ cookiecutter.project_slug }}")


def create_app(settings: Settings | None = None) -> Quart:
    """Build the service; ``settings`` default to the environment."""
    settings = settings or Settings()

    app = Quart(__name__)
    app.config.from_mapping(settings.quart_config())
    logging.basicConfig(level=settings.log_level)

    db.init_app(app, settings)

    QuartSchema(
        app,
        info=Info(title=TITLE, version=VERSION),
        # Interactive docs load assets from a CDN: development only.
        swagger_ui_path="/docs" if settings.environment is Environment.DEVELOPMENT else None,
        redoc_ui_path=None,
        scalar_ui_path=None,
    )
    app.json = JSONProvider(app)

    app.register_blueprint(health.blueprint)
    app.register_blueprint(items.blueprint, url_prefix="/api/v1/items")

    register_error_handlers(app)
    return app
