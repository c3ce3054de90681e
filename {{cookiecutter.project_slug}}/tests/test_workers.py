"""The supervisor of forked workers, driven with stand-in workers in a process of its own.

(The real server with two workers is in test_shutdown.py.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

{% if cookiecutter.database == "sqlite" -%}
from {{ cookiecutter.package_name }}.config import ENV_PREFIX, Settings
{% endif -%}
from {{ cookiecutter.package_name }}.workers import NO_FORK, serve_forked
{%- if cookiecutter.database == "sqlite" %}

from .conftest import LiveServer
{%- endif %}

# A supervisor of two stand-in workers. Each writes "<pid> started" to the log file, then
# serves until SIGTERM, which it writes down before it exits with status 0; a "failing"
# worker cannot start (status 3, as the servers exit then), a "breakable" one cannot either once
# the file "<log>.broken" exists, a "crashing" one dies (status 1) as soon as it has started, and
# a "stubborn" one ignores SIGTERM. A third argument replaces the time a worker must live to be
# replaced without a pause.
SUPERVISOR = """
import logging, os, signal, sys, time
from {{ cookiecutter.package_name }} import workers

log, behaviour = sys.argv[1], sys.argv[2]
if len(sys.argv) > 3:
    workers.SHORT_LIFE_SECONDS = float(sys.argv[3])
logging.basicConfig(level=logging.INFO)


def write(line):
    with open(log, "a") as file:
        file.write(f"{os.getpid()} {line}\\n")


def stopped(number, _frame):
    write(signal.Signals(number).name)
    sys.exit(0)


def serve():
    if behaviour == "failing":
        sys.exit(3)
    if behaviour == "breakable" and os.path.exists(log + ".broken"):
        write("could not start")
        sys.exit(3)
    signal.signal(signal.SIGTERM, signal.SIG_IGN if behaviour == "stubborn" else stopped)
    signal.signal(signal.SIGINT, stopped)
    write("started")
    if behaviour == "crashing":
        sys.exit(1)
    while True:
        time.sleep(1)


sys.exit(workers.serve_forked(2, serve, graceful_timeout=0))
"""


class Supervisor:
    def __init__(self, folder: Path, behaviour: str, *options: str) -> None:
        folder.mkdir()
        self.log = folder / "workers.log"
        script = folder / "supervisor.py"
        script.write_text(SUPERVISOR)
        command = [sys.executable, str(script), str(self.log), behaviour, *options]
        # A session of its own, like a server started from a terminal: its process group is
        # what a Ctrl-C there would signal.
        self.process = subprocess.Popen(
            command, stderr=subprocess.PIPE, text=True, start_new_session=True
        )

    def lines(self) -> list[tuple[int, str]]:
        if not self.log.exists():
            return []
        entries = (line.split(" ", 1) for line in self.log.read_text().splitlines())
        return [(int(pid), event) for pid, event in entries]

    def pids(self, event: str) -> list[int]:
        """The workers that logged ``event`` ("started", "could not start", a signal's name)."""
        return [pid for pid, logged in self.lines() if logged == event]

    def started(self) -> list[int]:
        return self.pids("started")

    def wait_for(self, event: str, count: int) -> list[int]:
        """The workers that logged ``event``, once at least ``count`` have."""
        deadline = time.monotonic() + 30
        while len(self.pids(event)) < count and time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()[1]
            time.sleep(0.05)
        assert len(self.pids(event)) >= count, self.lines()
        return self.pids(event)

    def wait_for_workers(self, count: int) -> list[int]:
        started = self.wait_for("started", count)
        assert len(started) == count, self.lines()
        return started

    def break_new_workers(self, broken: bool = True) -> None:
        """Make the workers started from now on fail to start ("breakable" ones), or not."""
        flag = self.log.with_name(self.log.name + ".broken")
        if broken:
            flag.touch()
        else:
            flag.unlink()

    def wait(self) -> tuple[int, str]:
        """The supervisor's exit status and what it logged."""
        _, errors = self.process.communicate(timeout=60)
        return self.process.returncode, errors


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


Supervise = Callable[..., Supervisor]


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Supervise]:
    """Start a supervisor of stand-in workers; whatever of it is left at the end is killed."""
    started: list[Supervisor] = []

    def start(behaviour: str, *options: str) -> Supervisor:
        started.append(Supervisor(tmp_path / f"supervisor-{len(started)}", behaviour, *options))
        return started[-1]

    yield start
    for supervisor in started:
        if supervisor.process.poll() is None:
            supervisor.process.kill()
            supervisor.process.wait()
        for pid in supervisor.started():
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "stop",
    [signal.SIGTERM, signal.SIGHUP],
    ids=["SIGTERM", "SIGHUP from a closed terminal"],
)
def test_a_stop_signal_stops_every_worker_once_and_exits_0(
    supervise: Supervise, stop: signal.Signals
) -> None:
    supervisor = supervise("serving")
    workers = supervisor.wait_for_workers(2)

    supervisor.process.send_signal(stop)
    status, log = supervisor.wait()

    assert status == 0, log
    assert sorted(supervisor.lines()) == sorted(
        [(pid, "started") for pid in workers] + [(pid, "SIGTERM") for pid in workers]
    )
    assert all(gone(pid) for pid in workers)


def test_ctrl_c_in_a_terminal_reaches_each_worker_once_through_the_supervisor(
    supervise: Supervise,
) -> None:
    supervisor = supervise("serving")
    workers = supervisor.wait_for_workers(2)

    os.killpg(supervisor.process.pid, signal.SIGINT)
    status, log = supervisor.wait()

    assert status == 0, log
    stops = [(pid, event) for pid, event in supervisor.lines() if event != "started"]
    assert sorted(stops) == sorted((pid, "SIGTERM") for pid in workers)


def test_a_worker_that_dies_after_serving_a_while_is_replaced_at_once(
    supervise: Supervise,
) -> None:
    supervisor = supervise("serving", "0")  # any time alive counts as "a while"
    first, second = supervisor.wait_for_workers(2)

    os.kill(first, signal.SIGKILL)
    *_, replacement = supervisor.wait_for_workers(3)
    supervisor.process.send_signal(signal.SIGTERM)
    status, log = supervisor.wait()

    assert replacement not in (first, second)
    assert f"Worker {first} exited with status 137: starting another\n" in log
    assert status == 0, log
    assert gone(second)
    assert gone(replacement)


def test_workers_that_keep_dying_as_they_start_are_replaced_ever_more_slowly(
    supervise: Supervise,
) -> None:
    supervisor = supervise("crashing")
    supervisor.wait_for_workers(6)
    supervisor.process.send_signal(signal.SIGTERM)
    _, log = supervisor.wait()

    pauses = [float(pause) for pause in re.findall(r"starting another in ([\d.]+) s", log)]
    assert pauses[:4] == [0.1, 0.2, 0.4, 0.8], log
    assert all(gone(pid) for pid in supervisor.started())


def test_workers_stop_when_their_supervisor_is_killed(supervise: Supervise) -> None:
    supervisor = supervise("serving")
    workers = supervisor.wait_for_workers(2)

    supervisor.process.kill()  # SIGKILL: the supervisor cannot pass anything on
    _, log = supervisor.wait()  # its stderr closes once both workers have exited

    stops = [(pid, event) for pid, event in supervisor.lines() if event != "started"]
    assert sorted(stops) == sorted((pid, "SIGTERM") for pid in workers)
    assert all(f"worker {pid} stopping" in log for pid in workers), log


def test_a_worker_that_cannot_start_stops_the_service_with_its_status(
    supervise: Supervise,
) -> None:
    supervisor = supervise("failing")

    status, log = supervisor.wait()

    assert status == 3
    assert "could not start: stopping" in log
    assert "starting another" not in log
{%- if cookiecutter.database == "sqlite" %}


def test_a_replacement_that_cannot_start_is_tried_again_while_another_serves(
    supervise: Supervise,
) -> None:
    """As when the identity provider is down while a crashed worker is replaced: the worker
    still serving keeps serving, rather than the whole service stopping."""
    supervisor = supervise("breakable", "1")  # a worker alive for 1 s has served a while
    first, second = supervisor.wait_for_workers(2)
    time.sleep(1.2)
    supervisor.break_new_workers()

    os.kill(first, signal.SIGKILL)
    supervisor.wait_for("could not start", 3)
    assert not gone(second)
    supervisor.break_new_workers(False)
    *_, replacement = supervisor.wait_for_workers(3)
    supervisor.process.send_signal(signal.SIGTERM)
    status, log = supervisor.wait()

    assert status == 0, log
    assert "could not start: stopping" not in log
    pauses = re.findall(r"exited with status 3 after [\d.]+ s: starting another in ([\d.]+) s", log)
    assert pauses[:3] == ["0.1", "0.2", "0.4"], log
    assert gone(second)
    assert gone(replacement)


def test_a_replacement_that_cannot_start_stops_the_service_when_none_serves(
    supervise: Supervise,
) -> None:
    supervisor = supervise("breakable", "1")
    workers = supervisor.wait_for_workers(2)
    time.sleep(1.2)
    supervisor.break_new_workers()

    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    status, log = supervisor.wait()

    assert status == 3, log
    assert "could not start: stopping" in log
    assert supervisor.pids("could not start")


@pytest.mark.parametrize("workers", [1, 2])
def test_the_real_server_stops_when_its_app_cannot_start(
    settings: Settings, tmp_path: Path, workers: int
) -> None:
    in_the_way = tmp_path / "a file"
    in_the_way.touch()
    url = f"sqlite+aiosqlite:///{in_the_way}/data/service.db"
    unstartable = settings.model_copy(update={"database_url": url})

    server = LiveServer(unstartable, tmp_path / "server.log", workers=workers)
    try:
        status = server.process.wait(timeout=60)
    finally:
        server.stop()

    log = server.log.read_text()
    assert status == 3, log
    # The reason, in the log, with the setting to change.
    assert (
        f"Cannot make {in_the_way}/data, the folder of {ENV_PREFIX}DATABASE_URL's file: "
        "Not a directory"
    ) in log
    assert "Traceback" not in log
    if workers > 1:
        assert "could not start: stopping" in log
{%- endif %}


def test_a_worker_that_ignores_sigterm_is_killed(supervise: Supervise) -> None:
    supervisor = supervise("stubborn")
    workers = supervisor.wait_for_workers(2)

    supervisor.process.send_signal(signal.SIGTERM)
    status, log = supervisor.wait()

    assert status == 128 + signal.SIGKILL
    assert all(f"Worker {pid} did not stop in time: killing it" in log for pid in workers)
    assert all(gone(pid) for pid in workers)


def test_without_fork_more_than_one_worker_is_refused_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(os, "fork")

    with pytest.raises(SystemExit) as stopped:
        serve_forked(2, lambda: None, graceful_timeout=0)

    assert stopped.value.code == NO_FORK
