"""The application factory: read it as the service's table of contents."""

from __future__ import annotations

from importlib.metadata import version

from quart import Quart
from quart_schema import Info, QuartSchema

from . import {% if cookiecutter.auth == "jwt" %}auth, {% endif %}db, {% if cookiecutter.rate_limit != "none" %}ratelimit, {% endif %}security
from .blueprints import api, health
from .config import Settings
from .errors import register_error_handlers
from .logs import configure_logging, startup_errors_in_one_line
from .openapi import APIDocument
from .serialization import JSONProvider

TITLE = {{ cookiecutter.project_name | py_str }}
VERSION = version("{{ cookiecutter.project_slug }}")


def create_app(settings: Settings | None = None) -> Quart:
    """Build the service; ``settings`` default to the environment."""
    settings = settings or Settings()

    app = Quart(__name__)
    app.config.from_mapping(settings.quart_config())
    configure_logging(settings.log_level, sql=settings.database_echo)
    app.logger.addFilter(startup_errors_in_one_line)

    db.init_app(app, settings)
    security.init_app(app, settings)
{%- if cookiecutter.auth == "jwt" %}
    auth.init_app(app, settings)
{%- endif %}
{%- if cookiecutter.rate_limit != "none" %}
    ratelimit.init_app(app, settings)
{%- endif %}

    QuartSchema(
        app,
        info=Info(title=TITLE, version=VERSION),
        openapi_provider_class=APIDocument,
{%- if cookiecutter.auth == "jwt" %}
        security_schemes={auth.BEARER: auth.BEARER_SCHEME},
{%- endif %}
        swagger_ui_path=security.docs_path(settings),
        redoc_ui_path=None,
        scalar_ui_path=None,
    )
    app.json = JSONProvider(app)

    app.register_blueprint(health.blueprint)
    app.register_blueprint(api.blueprint)

    register_error_handlers(app)
    return app
