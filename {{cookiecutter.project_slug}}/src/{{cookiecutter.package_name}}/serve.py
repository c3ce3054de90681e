{%- set server_name = {"hypercorn": "Hypercorn", "uvicorn": "Uvicorn", "granian": "Granian"}[cookiecutter.server] -%}
"""Serve the app with {{ server_name }}: ``python -m {{ cookiecutter.package_name }}.serve --help``.

`make run`, `make serve`, the Dockerfile and the tests' live server all start the service
{%- if cookiecutter.server == "granian" %}
this way. The workers, one or more, are processes Granian forks once this process has
imported the app, each with its own database pool.
{%- else %}
this way. One worker serves in this process (no supervisor, a faster start). More workers
are processes forked from this one once it has imported the app (workers.py), each with its
own database pool.
{%- endif %}
{% if cookiecutter.server == "hypercorn" -%}
The server's own settings are in hypercorn.toml.
{%- else -%}
The server's own settings are the constants below.
{%- endif %}
"""

from __future__ import annotations

import argparse
{%- if cookiecutter.server != "uvicorn" %}
import importlib
{%- endif %}
{%- if cookiecutter.server == "hypercorn" %}
import logging
{%- endif %}
{%- if cookiecutter.server == "uvicorn" %}
import signal
{%- endif %}
import socket
import sys
from collections.abc import {% if cookiecutter.server == "hypercorn" %}Callable, {% endif %}Sequence
{%- if cookiecutter.server != "granian" %}
from functools import partial
{%- endif %}
{%- if cookiecutter.server == "hypercorn" %}
from pathlib import Path
{%- endif %}
{%- if cookiecutter.server == "uvicorn" %}
from types import FrameType
{%- endif %}
{%- if cookiecutter.server != "hypercorn" %}
from typing import Any
{%- endif %}
{%- if cookiecutter.server == "hypercorn" %}

from hypercorn.asyncio.run import asyncio_worker, uvloop_worker
from hypercorn.config import Config, Sockets
from hypercorn.run import run
from hypercorn.utils import LifespanFailureError
{%- elif cookiecutter.server == "uvicorn" %}

import uvicorn
{%- else %}

from granian import Granian
from granian.constants import Interfaces
from granian.log import LogLevels
{%- endif %}
from pydantic import ValidationError

from .config import Settings, refusal
from .logs import configure_logging
{%- if cookiecutter.server != "granian" %}
from .workers import {% if cookiecutter.server == "hypercorn" %}STARTUP_FAILURE, {% endif %}serve_forked
{%- endif %}

APP = "{{ cookiecutter.package_name }}.asgi:app"
MAX_PORT = 65535
ACCESS_LOG = "{{ cookiecutter.server }}.access"
{%- if cookiecutter.server != "hypercorn" %}
# Let in-flight requests finish after SIGTERM before shutting down.
GRACEFUL_TIMEOUT_SECONDS = 10
{%- endif %}
{%- if cookiecutter.server == "hypercorn" %}
WORKER_CLASSES = {"asyncio": asyncio_worker, "uvloop": uvloop_worker}
{%- elif cookiecutter.server == "uvicorn" %}
# Longer than a load balancer's idle timeout (often 60 s), so it never reuses a closed socket.
KEEP_ALIVE_SECONDS = 75
OPTIONS: dict[str, Any] = {
    # uvloop and httptools where uvicorn[standard] installs them (not uvloop on Windows).
    "loop": "auto",
    "http": "auto",
    "lifespan": "on",
    # Client addresses come from the trusted-proxy setting (security.py), not from here.
    "proxy_headers": False,
    "server_header": False,
    "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    "timeout_graceful_shutdown": GRACEFUL_TIMEOUT_SECONDS,
    # Uvicorn's lines go through the service's logging, in its format (logs.py).
    "log_config": None,
}
{%- else %}
# Granian's lines go through the service's logging, in its format (logs.py): its loggers keep
# no handlers of their own, and the access line leaves the time to that format.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {
        "_granian": {"propagate": True},
        ACCESS_LOG: {"propagate": True, "level": "INFO"},
    },
}
ACCESS_FORMAT = '%(addr)s "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).3fms'
{%- endif %}
{%- if cookiecutter.server == "granian" %}


def _app(target: str) -> Any:
    """A worker's app. Granian would import ``target`` again in each worker; this one takes the
    module this process imported before forking (a worker that is spawned imports it)."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
{%- endif %}


{%- if cookiecutter.server == "hypercorn" %}


def _serve(worker: Callable[[Config, Sockets], None], config: Config, sockets: Sockets) -> None:
    """Serve as a forked worker; exit status 3 when the app could not start (the app has logged
    why), which stops the other workers too."""
    try:
        worker(config, sockets)
    except LifespanFailureError:
        raise SystemExit(STARTUP_FAILURE) from None
{%- endif %}
{%- if cookiecutter.server == "uvicorn" %}


def _stopped_as_asked(_signal: int, _frame: FrameType | None) -> None:
    """Uvicorn re-raises the signal that stopped it once it has shut down gracefully: a stop
    that was asked for (SIGTERM, SIGINT) and went well exits with status 0."""
    raise SystemExit(0)


def _serve(config: uvicorn.Config, sockets: list[socket.socket] | None = None) -> None:
    """Serve in this process, on ``sockets`` (a forked worker's) or on a socket of its own."""
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _stopped_as_asked)
    uvicorn.Server(config).run(sockets)
{%- endif %}


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _worker_count(text: str) -> int:
    number = _whole_number(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _port(text: str) -> int:
    # Checked here: the resolver would wrap 65536 round to 0, and the servers fail on it later.
    number = _whole_number(text)
    if not 1 <= number <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_PORT}, not {number}")
    return number


def cannot_listen(host: str, port: int) -> str | None:
    """Why no server could listen on ``host``:``port`` (in use, not an address of this machine,
    a port below 1024 without the right), or None when it can.

    Tried before the server starts, so that each server says so in one line: Hypercorn would
    end in a traceback, Granian in a Rust panic, Uvicorn after starting the app.
    """
    try:
        address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        # A name that does not resolve, or is not a name at all (IDNA refuses "a..b").
        return "no such address"
    family, kind, protocol, _, where = address[0]
    with socket.socket(family, kind, protocol) as probe:
        # As the servers do: a port whose last connections are still closing can be reused.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(where)
        except OSError as error:
            return error.strerror or str(error)
    return None
{%- if cookiecutter.server == "granian" %}


def ip_address(host: str) -> str:
    """The address ``host`` names, where :func:`cannot_listen` tried it: Granian listens on an
    IP address only, not on a name such as ``localhost``."""
    address = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return str(address[0][4][0])
{%- endif %}


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    # Not from __doc__, which ``python -OO`` strips.
    parser = argparse.ArgumentParser(
        prog="python -m {{ cookiecutter.package_name }}.serve",
        description="Serve the app with {{ server_name }}.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument("--port", type=_port, default=8000, help="port to listen on (%(default)s)")
    parser.add_argument(
        "--workers", type=_worker_count, default=1, help="worker processes (%(default)s)"
    )
{%- if cookiecutter.server == "hypercorn" %}
    parser.add_argument(
        "--config", default="hypercorn.toml", help="Hypercorn's settings (%(default)s)"
    )
{%- endif %}
    return parser.parse_args(argv)
{%- if cookiecutter.server == "hypercorn" %}


def hypercorn_config(arguments: argparse.Namespace) -> Config:
    """Hypercorn's settings: the file's, with where to listen from the arguments."""
    config = Config.from_toml(arguments.config)
    config.application_path = APP
    config.bind = [f"{arguments.host}:{arguments.port}"]
    # Hypercorn's own lines (start, errors) and its access log go through the service's
    # logging, in its format (logs.py). "-" would give them handlers and a format of their own,
    # and the error lines would be written twice.
    if config.errorlog == "-":
        config.errorlog = logging.getLogger("hypercorn.error")
    if config.accesslog == "-":
        config.accesslog = logging.getLogger(ACCESS_LOG)
    return config
{%- endif %}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        # Checked here once, rather than as a traceback from every worker's startup.
        print(refusal(error), file=sys.stderr)
        return 2
{%- if cookiecutter.server == "hypercorn" %}
    if not Path(arguments.config).is_file():
        print(
            f"Cannot start: there is no {arguments.config} here; serve from the project's "
            "folder, or give its path with --config.",
            file=sys.stderr,
        )
        return 2
{%- endif %}
    reason = cannot_listen(arguments.host, arguments.port)
    if reason:
        print(
            f"Cannot start: cannot listen on {arguments.host}:{arguments.port}: {reason}.",
            file=sys.stderr,
        )
        return 2
    configure_logging(settings.log_level, access_log=ACCESS_LOG, sql=settings.database_echo)
{%- if cookiecutter.server == "hypercorn" %}
    config = hypercorn_config(arguments)
    if arguments.workers == 1:
        # Hypercorn's "0 workers" serves in this process.
        config.workers = 0
        try:
            return run(config)
        except LifespanFailureError:
            # The app has logged why; the exit status is a forked worker's.
            logging.getLogger(__name__).error("The app could not start: stopping")
            return STARTUP_FAILURE
    worker = WORKER_CLASSES[config.worker_class]
    sockets = config.create_sockets()
    try:
        # Imported once, here: every worker forked below shares it.
        importlib.import_module(APP.partition(":")[0])
        serve = partial(_serve, worker, config, sockets)
        return serve_forked(arguments.workers, serve, graceful_timeout=config.graceful_timeout)
    finally:
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets, *sockets.quic_sockets):
            sock.close()
{%- elif cookiecutter.server == "uvicorn" %}
    config = uvicorn.Config(APP, host=arguments.host, port=arguments.port, **OPTIONS)
    if arguments.workers == 1:
        _serve(config)
        return 0
    with config.bind_socket() as sock:
        # Imported once, here: every worker forked below shares it.
        config.load()
        serve = partial(_serve, config, [sock])
        return serve_forked(arguments.workers, serve, graceful_timeout=GRACEFUL_TIMEOUT_SECONDS)
{%- else %}
    # Imported once, here: every worker Granian forks shares it.
    importlib.import_module(APP.partition(":")[0])
    Granian(
        APP,
        address=ip_address(arguments.host),
        port=arguments.port,
        workers=arguments.workers,
        # A worker that dies is replaced; one that dies again within 5.5 s stops the service.
        respawn_failed_workers=True,
        interface=Interfaces.ASGI,
        websockets=False,
        log_access=True,
        log_access_format=ACCESS_FORMAT,
        log_dictconfig=LOG_CONFIG,
        log_level=LogLevels(settings.log_level.lower()),
        workers_kill_timeout=GRACEFUL_TIMEOUT_SECONDS,
    ).serve(target_loader=_app)
    return 0
{%- endif %}


if __name__ == "__main__":
    raise SystemExit(main())
