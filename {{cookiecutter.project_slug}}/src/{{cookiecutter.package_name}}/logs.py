"""One format for every line the service writes, its server's included::

    [2026-01-31 12:00:00 +0000] [4242] [WARNING] {{ cookiecutter.package_name }}.app: Database unavailable on GET /api/v1/items

When, which process (several workers write to the same stream), how serious, which logger,
and the message. The server's loggers have no handlers of their own (serve.py): their lines
go through the root logger's, which :func:`configure_logging` sets up.
"""

from __future__ import annotations

import logging

from .config import StartupError

FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"


def configure_logging(level: str, *, access_log: str | None = None, sql: bool = False) -> None:
    """Write records at ``level`` and above to standard error in :data:`FORMAT`, unless logging
    has been set up already (by a test runner, or a program that embeds the app).

    ``access_log`` names the server's access logger, which writes at INFO whatever ``level``
    is: the server's own settings turn the access log on and off. ``sql`` (``DATABASE_ECHO``)
    logs every statement SQLAlchemy runs, at INFO too; the engine's ``echo=True`` would write
    each a second time, in a format of its own, on standard output. Python's warnings (a
    library's deprecation, PyJWT's about a short key) are logged too, in the same format.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format=FORMAT, datefmt=DATE_FORMAT)
        logging.captureWarnings(True)
    if access_log is not None:
        logging.getLogger(access_log).setLevel(logging.INFO)
    if sql:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)


def startup_errors_in_one_line(record: logging.LogRecord) -> bool:
    """A filter that writes a :class:`StartupError` that Quart logs (with its traceback, as it
    does any error at startup) as its message alone, which says what is wrong and where."""
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, StartupError):
        record.msg, record.args = "%s", (error,)
        record.exc_info = record.exc_text = None
    return True


def summary(error: BaseException) -> str:
    """``error`` in one line: its type and the first line of its message (SQLAlchemy adds a
    second, a link). For outages the service expects and waits out (a database or Redis that
    is down), which would otherwise write a traceback for every request or probe."""
    message = str(error).partition("\n")[0]
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
