"""More than one worker: processes forked from this one once it has imported the app.

The server's own ``--workers`` starts each worker as a new interpreter, which imports everything
again: ~60 MiB of memory a worker that no other process shares. A worker forked after the import
shares those pages with this process and its siblings until one of them writes to a page
(``gc.freeze()`` in asgi.py keeps the garbage collector from doing so): 10-17 MiB a worker.
Nothing open is shared across the fork: each worker makes its own database engine, and any
other connection, when it starts serving.

This process (the supervisor) serves nothing. It replaces a worker that dies (after a pause that
doubles while workers keep dying within seconds of starting), stops everything when one could
not start (exit status 3: the next would fail the same way) unless another has been serving
for a while (then the cause is passing, an identity provider down, say: it is tried again, as
for a worker that dies young), and on SIGTERM or SIGINT (or SIGHUP) asks every worker to stop
(SIGTERM: each finishes the requests it has) and waits. A worker whose supervisor has gone
(killed with SIGKILL, say) stops itself the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

logger = logging.getLogger(__name__)

# SIGHUP: the terminal that started the service closed. The workers, each in a process group of
# its own, would not get it, and would serve on after the supervisor had gone.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)
)
# A worker's exit status when its app could not start (an unreachable JWKS, a database file it
# cannot create, ...): Uvicorn's convention, which serve.py keeps whatever the server.
STARTUP_FAILURE = 3
# How much longer than the server's own graceful timeout a stopping worker gets before SIGKILL.
KILL_MARGIN_SECONDS = 5
# A worker that dies within SHORT_LIFE_SECONDS of its start is replaced after a pause of
# RESTART_PAUSE_SECONDS, doubled for each such death in a row up to MAX_RESTART_PAUSE_SECONDS, so
# that a worker that crashes as it starts does not become a loop of forks and tracebacks.
SHORT_LIFE_SECONDS = 10.0
RESTART_PAUSE_SECONDS = 0.1
MAX_RESTART_PAUSE_SECONDS = 10.0
# How often a worker checks that its supervisor is still there.
ORPHAN_CHECK_SECONDS = 1.0
NO_FORK = "More than one worker needs fork(), which this system lacks: serve with --workers 1."


def serve_forked(count: int, serve: Callable[[], object], *, graceful_timeout: float) -> int:
    """Run ``serve()`` in ``count`` forked workers until asked to stop; the exit status.

    The status is 0 when every worker stopped cleanly once asked, else the first failure's.
    """
    if not hasattr(os, "fork"):
        raise SystemExit(NO_FORK)
    supervisor = os.getpid()
    workers: dict[int, float] = {}  # pid: when it started
    stopping = False
    status = 0
    short_lives = 0

    def stop(_signal: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        logger.info("Stopping %d workers", len(workers))
        for pid in workers:
            _send(pid, signal.SIGTERM)
        signal.alarm(int(graceful_timeout) + KILL_MARGIN_SECONDS)

    def kill_stragglers(_signal: int, _frame: FrameType | None) -> None:
        for pid in workers:
            logger.error("Worker %d did not stop in time: killing it", pid)
            _send(pid, signal.SIGKILL)

    def start() -> None:
        # Signals wait until the new worker is in `workers` (so a stop reaches it) and, in the
        # worker, until it no longer runs the supervisor's handlers.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        if stopping:
            # A stop came after the caller looked and before the block: start nothing.
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            return
        pid = os.fork()
        if pid == 0:
            _run_worker(serve, supervisor)
        workers[pid] = time.monotonic()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        logger.info("Started worker %d", pid)

    previous = {number: signal.getsignal(number) for number in (*STOP_SIGNALS, signal.SIGALRM)}
    for number in STOP_SIGNALS:
        signal.signal(number, stop)
    signal.signal(signal.SIGALRM, kill_stragglers)
    try:
        for _ in range(count):
            start()
        while workers:
            pid, wait_status = os.wait()
            if pid not in workers:
                continue
            now = time.monotonic()
            lived = now - workers.pop(pid)
            code = _exit_status(wait_status)
            if stopping:
                status = status or code
            elif code == STARTUP_FAILURE and not any(
                now - started >= SHORT_LIFE_SECONDS for started in workers.values()
            ):
                logger.error("Worker %d could not start: stopping", pid)
                status = code
                stop()
            elif lived >= SHORT_LIFE_SECONDS:
                short_lives = 0
                logger.error("Worker %d exited with status %d: starting another", pid, code)
                start()
            else:
                pause = min(RESTART_PAUSE_SECONDS * 2**short_lives, MAX_RESTART_PAUSE_SECONDS)
                short_lives += 1
                logger.error(
                    "Worker %d exited with status %d after %.1f s: starting another in %.1f s",
                    pid,
                    code,
                    lived,
                    pause,
                )
                deadline = time.monotonic() + pause
                # In short sleeps, so that a stop signal meanwhile is obeyed at once.
                while not stopping and time.monotonic() < deadline:
                    time.sleep(min(0.05, pause))
                start()
    finally:
        signal.alarm(0)
        for number, handler in previous.items():
            signal.signal(number, handler)
    return status


def _run_worker(serve: Callable[[], object], supervisor: int) -> NoReturn:
    """The forked worker's whole life: run ``serve()``, then exit with its status."""
    status = 1
    try:
        # Out of the supervisor's process group, so that a Ctrl-C in a terminal reaches the
        # supervisor alone and the workers stop once, when it tells them to.
        os.setpgid(0, 0)
        for number in (*STOP_SIGNALS, signal.SIGALRM):
            signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        threading.Thread(
            target=_stop_when_orphaned, args=(supervisor,), name="orphan-check", daemon=True
        ).start()
        serve()
        status = 0
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
        status = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _stop_when_orphaned(supervisor: int) -> None:
    """SIGTERM this worker once its supervisor has gone (it is then some other process's child):
    nothing else would ever stop it, replace it or reap it."""
    while os.getppid() == supervisor:
        time.sleep(ORPHAN_CHECK_SECONDS)
    logger.error("The supervisor (%d) has gone: worker %d stopping", supervisor, os.getpid())
    os.kill(os.getpid(), signal.SIGTERM)


def _exit_status(wait_status: int) -> int:
    """A shell's exit status for a child's wait status (128 + N when signal N ended it)."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def _send(pid: int, number: signal.Signals) -> None:
    # A worker that has exited already is not an error: os.wait() will say so.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)
