"""The served log: every line, the server's and the service's, in one format."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.serve import ACCESS_LOG

from .conftest import ALEMBIC_INI, LiveServer, prepare

# logs.FORMAT: [time] [process id] [level] logger: message
LINE = re.compile(
    r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[(?P<pid>\d+)\] \[(?P<level>[A-Z]+)\] "
    r"(?P<logger>[\w.]+): (?P<message>.*)"
)


@pytest.mark.parametrize("live_server", [1, 2], indirect=True, ids=["1 worker", "2 workers"])
def test_every_line_says_when_which_process_and_how_serious(live_server: LiveServer) -> None:
    httpx.get(f"{live_server.url}/healthz")
    httpx.get(f"{live_server.url}/no-such-page")
    # Some servers write the access line once the response has gone: wait for it rather than
    # stop the server before it is written.
    deadline = time.monotonic() + 10
    while "/no-such-page " not in live_server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_server.stop() == 0

    log = live_server.log.read_text()
    records = [LINE.fullmatch(line) for line in log.splitlines()]
    assert None not in records, log
    access = [
        (int(record["pid"]), record["message"])
        for record in records
        if record and record["logger"] == ACCESS_LOG
    ]
    assert any("/healthz " in message and " 200" in message for _, message in access), log
    assert any("/no-such-page " in message and " 404" in message for _, message in access), log
    # Each access line names the process that answered; more than one worker are processes
    # of their own, not the one started.
    answered_by = {pid for pid, _ in access}
    if live_server.workers == 1:
        assert len(answered_by) == 1, log
    else:
        assert live_server.process.pid not in answered_by, log


def test_sql_statements_are_written_once_in_the_same_format(
    settings: Settings, tmp_path: Path
) -> None:
    prepare(settings)
    echoing = settings.model_copy(update={"database_echo": True, "log_level": "WARNING"})
    server = LiveServer(echoing, tmp_path / "server.log")
    try:
        server.wait_until_ready()  # /readyz reads the migrations' table
    finally:
        status = server.stop()
    assert status == 0

    log = server.log.read_text()
    # A statement's text may run over several lines; the first is the record's.
    mentions = [line for line in log.splitlines() if "sqlalchemy.engine" in line]
    records = [LINE.fullmatch(line) for line in mentions]
    assert None not in records, log
    statements = [record["message"] for record in records if record]
    assert any(statement.startswith("SELECT") for statement in statements), log
    # WARNING silences the service's own INFO lines, not the statements it was asked for.
    assert all(record["level"] == "INFO" for record in records if record), log


def test_migrations_log_in_the_same_format(tmp_path: Path) -> None:
    # --sql writes the migrations' SQL instead of running it: the log without a database.
    migrating = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), "upgrade", "head", "--sql"],
        cwd=tmp_path,  # no .env
        capture_output=True,
        text=True,
        check=True,
    )
    lines = migrating.stderr.splitlines()
    records = [LINE.fullmatch(line) for line in lines]
    assert lines, migrating.stderr
    assert None not in records, migrating.stderr
    assert any("Running upgrade" in record["message"] for record in records if record)
