{%- set server_name = {"hypercorn": "Hypercorn", "uvicorn": "Uvicorn", "granian": "Granian"}[cookiecutter.server] -%}
"""Serve the app with {{ server_name }}: ``python -m {{ cookiecutter.package_name }}.serve --help``.

`make run`, `make serve`, the Dockerfile and the tests' live server all start the service
this way. One worker serves in this process (no supervisor, a faster start); more workers
are processes of their own, each with its own database pool.
{% if cookiecutter.server == "hypercorn" -%}
The server's own settings are in hypercorn.toml.
{%- else -%}
The server's own settings are the constants below.
{%- endif %}
"""

from __future__ import annotations

import argparse
{%- if cookiecutter.server == "uvicorn" %}
import signal
{%- endif %}
import sys
from collections.abc import Sequence
{%- if cookiecutter.server == "uvicorn" %}
from types import FrameType
{%- endif %}
{%- if cookiecutter.server == "hypercorn" %}

from hypercorn.config import Config
from hypercorn.run import run
{%- elif cookiecutter.server == "uvicorn" %}

import uvicorn
{%- else %}

from granian import Granian
from granian.constants import Interfaces
{%- endif %}
from pydantic import ValidationError

from .config import Settings, describe

APP = "{{ cookiecutter.package_name }}.asgi:app"
{%- if cookiecutter.server != "hypercorn" %}
# Let in-flight requests finish after SIGTERM before shutting down.
GRACEFUL_TIMEOUT_SECONDS = 10
{%- endif %}
{%- if cookiecutter.server == "uvicorn" %}
# Longer than a load balancer's idle timeout (often 60 s), so it never reuses a closed socket.
KEEP_ALIVE_SECONDS = 75
{%- endif %}


{%- if cookiecutter.server == "uvicorn" %}


def _stopped_as_asked(_signal: int, _frame: FrameType | None) -> None:
    """Uvicorn re-raises the signal that stopped it once it has shut down gracefully: a stop
    that was asked for (SIGTERM, SIGINT) and went well exits with status 0."""
    raise SystemExit(0)
{%- endif %}


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
{%- if cookiecutter.server == "hypercorn" %}
    parser.add_argument("--config", default="hypercorn.toml", help="Hypercorn's settings")
{%- endif %}
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        Settings()
    except ValidationError as error:
        # Checked here once, rather than as a traceback from every worker's startup.
        print(f"Cannot start: the settings are invalid.\n{describe(error)}", file=sys.stderr)
        return 2
{%- if cookiecutter.server == "hypercorn" %}
    config = Config.from_toml(arguments.config)
    config.application_path = APP
    config.bind = [f"{arguments.host}:{arguments.port}"]
    # Hypercorn's "0 workers" serves in this process.
    config.workers = 0 if arguments.workers == 1 else arguments.workers
    return run(config)
{%- elif cookiecutter.server == "uvicorn" %}
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _stopped_as_asked)
    uvicorn.run(
        APP,
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        # Client addresses come from the trusted-proxy setting (security.py), not from here.
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_TIMEOUT_SECONDS,
    )
    return 0
{%- else %}
    Granian(
        APP,
        address=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        interface=Interfaces.ASGI,
        websockets=False,
        log_access=True,
        workers_kill_timeout=GRACEFUL_TIMEOUT_SECONDS,
    ).serve()
    return 0
{%- endif %}


if __name__ == "__main__":
    raise SystemExit(main())
