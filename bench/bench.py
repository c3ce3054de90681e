"""Benchmark the rendered service: ``make bench`` (or ``.venv/bin/python bench/bench.py``).

For every variant (a set of cookiecutter answers) it renders the template into
``build/bench/<variant>/``, installs and migrates the project, seeds items, and serves it with
its own ``make serve`` (one worker, pinned to core 0). Two reference apps from ``bench/apps/``
(raw ASGI, the ceiling; a minimal Quart app, the framework's floor) are served by the same
server binary. wrk, pinned to core 1, loads every (target, endpoint) once per round, for
``BENCH_RUNS`` interleaved rounds; straight before each service run it also loads the same
server's Quart hello ``/healthz`` for as long (a paired run, marked ``paired_with``), so that
"÷ Quart hello" is the median over rounds of service req/s ÷ the hello req/s measured beside
it, not a ratio of runs far apart in time (the hello row itself comes from its own interleaved
runs only). Then it times cold starts and a render-to-ready, and writes ``BENCHMARKS.md``
(keeping the hand-written notes below its ``<!-- notes -->`` marker) and the raw figures as
JSON. ``bench/bench.py --report`` only rewrites the report from those figures.

Settings, from the environment (empty means the default):
    BENCH_VARIANTS    comma-separated variant names (default: every one in VARIANTS)
    BENCH_RUNS        interleaved rounds (3)
    BENCH_DURATION    seconds per wrk run (10)
    BENCH_WARMUP      seconds of untimed warm-up per (target, endpoint) (min(2, duration))
    BENCH_CONNECTIONS wrk connections (50)
    BENCH_ITEMS       items seeded before the runs (1000)
    BENCH_COLD_STARTS cold starts timed per variant (3)
    BENCH_MEMORY_WORKERS  workers of the memory measure (4; 1 skips it)
    BENCH_RENDER_TO_READY  0 skips the render-to-ready measure (1)
    BENCH_PAIRED      0 skips the paired hello runs: quicker, and "÷ Quart hello" is then the
                      ratio of medians (1)
    BENCH_OUTPUT      the report (BENCHMARKS.md at the repository root)
    BENCH_RESULTS     the raw figures (bench/results.json; beside BENCH_OUTPUT when that is set)
    BENCH_BUILD_DIR   where projects are rendered (build/bench)
    BENCH_TEMPLATE    the template to render (this repository)
    QS_POSTGRES_URL   admin URL of the PostgreSQL server (postgresql://postgres@127.0.0.1:5432/postgres)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cookiecutter.main import cookiecutter

# --- What to benchmark ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One render of the template. ``env`` adds service settings; ``{PREFIX}`` becomes e.g.
    ``MY_SERVICE_``."""

    name: str
    answers: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)


# One line per combination benchmarked; BENCH_VARIANTS picks some by name.
VARIANTS = [
    Variant("sqlite", {}),
    Variant("sqlite-bare", {"auth": "none", "rate_limit": "none"}),
    Variant("postgresql", {"database": "postgresql"}),
    Variant("uvicorn", {"server": "uvicorn"}),
    Variant("granian", {"server": "granian"}),
]

# Settings every variant runs with: production, as deployed. Unknown ones are ignored by the
# service, so settings of options a variant does not have are harmless.
SERVICE_ENV = {
    "{PREFIX}ENVIRONMENT": "production",
    "{PREFIX}SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
    "{PREFIX}JWT_SECRET_KEY": secrets.token_urlsafe(36),
    # wrk is one client address: a real limit would turn the runs into 429s. The limiter still
    # runs (and costs what it costs); it just never refuses.
    "{PREFIX}RATE_LIMIT_REQUESTS": str(10**9),
}

# Each server, serving an ASGI "module:app" target with one worker. {bin} is the folder of the
# server's executable, {config_dir} the rendered project (for its server config file).
SERVERS = {
    "hypercorn": "{bin}/hypercorn --config {config_dir}/hypercorn.toml --bind {host}:{port} --workers 1 {target}",
    "uvicorn": "{bin}/uvicorn --host {host} --port {port} --workers 1 {target}",
    # With an access log, like the service (serve.py turns Granian's on).
    "granian": "{bin}/granian --interface asgi --host {host} --port {port} --workers 1 --access-log {target}",
}

# name -> (wrk script in bench/lua/, what it requests)
ENDPOINTS = {
    "healthz": ("healthz.lua", "GET /healthz"),
    "item": ("item.lua", "GET /api/v1/items/<random id>"),
    "list": ("list.lua", "GET /api/v1/items?limit=20"),
    "create": ("create.lua", "POST /api/v1/items"),
}
REFERENCE_APPS = {
    "raw": ("raw_asgi:app", "raw ASGI (no framework)"),
    "hello": ("quart_hello:app", "Quart hello"),
}

HOST = "127.0.0.1"
SERVER_CORE, LOAD_CORE = 0, 1
WRK_THREADS = 1
ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
NOTES_MARKER = "<!-- notes -->"
EN_DASH, TIMES = "\u2013", "\u00d7"
NOTES_PLACEHOLDER = (
    "_To be written by hand: what the figures mean, what they cost, what to change. "
    "`make bench` keeps everything below the marker above._\n"
)
VERSION_PACKAGES = [
    "quart",
    "quart-schema",
    "quart-cors",
    "werkzeug",
    "hypercorn",
    "uvicorn",
    "granian",
    "h11",
    "h2",
    "pydantic",
    "pydantic-core",
    "pydantic-settings",
    "sqlalchemy",
    "greenlet",
    "aiosqlite",
    "asyncpg",
    "alembic",
    "pyjwt",
    "redis",
]
TRACKER_MARKERS = ("resource_tracker", "semaphore_tracker", "forkserver")
# Once the last of several workers exists: time for it to finish starting (a worker the server
# spawns imports the whole app first).
MEMORY_SETTLE_SECONDS = 2.0
LOG_PROBLEMS = {
    "traceback": re.compile(r"Traceback \(most recent call last\)"),
    "error_lines": re.compile(r"\b(ERROR|CRITICAL)\b"),
    "database_locked": re.compile(r"database is locked", re.IGNORECASE),
    "http_5xx": re.compile(r'" 5\d\d '),
}


class BenchError(Exception):
    """Stops the benchmark with one sentence."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- Settings ------------------------------------------------------------------------------------


@dataclass
class Config:
    variants: list[Variant]
    runs: int
    duration: int
    warmup: int
    connections: int
    items: int
    cold_starts: int
    memory_workers: int
    render_to_ready: bool
    paired: bool
    output: Path
    results: Path
    build_dir: Path
    template: Path
    postgres_admin_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        def get(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        def number(name: str, default: int, minimum: int) -> int:
            text = get(name, str(default))
            try:
                value = int(text)
            except ValueError:
                raise BenchError(f"{name} must be a whole number, not {text!r}.") from None
            if value < minimum:
                raise BenchError(f"{name} must be at least {minimum}, not {value}.")
            return value

        names = [name.strip() for name in get("BENCH_VARIANTS", "").split(",") if name.strip()]
        known = {variant.name: variant for variant in VARIANTS}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise BenchError(
                f"BENCH_VARIANTS names {', '.join(unknown)}, not among {', '.join(known)}."
            )
        duration = number("BENCH_DURATION", 10, 1)
        output = Path(get("BENCH_OUTPUT", str(ROOT / "BENCHMARKS.md"))).resolve()
        default_results = (
            output.with_suffix(".json") if env.get("BENCH_OUTPUT") else BENCH / "results.json"
        )
        return cls(
            variants=[known[name] for name in names] if names else list(VARIANTS),
            runs=number("BENCH_RUNS", 3, 1),
            duration=duration,
            warmup=number("BENCH_WARMUP", min(2, duration), 0),
            connections=number("BENCH_CONNECTIONS", 50, 1),
            items=number("BENCH_ITEMS", 1000, 1),
            cold_starts=number("BENCH_COLD_STARTS", 3, 1),
            memory_workers=number("BENCH_MEMORY_WORKERS", 4, 1),
            render_to_ready=get("BENCH_RENDER_TO_READY", "1") not in {"0", "no", "false"},
            paired=get("BENCH_PAIRED", "1") not in {"0", "no", "false"},
            output=output,
            results=Path(get("BENCH_RESULTS", str(default_results))).resolve(),
            build_dir=Path(get("BENCH_BUILD_DIR", str(ROOT / "build" / "bench"))).resolve(),
            template=Path(get("BENCH_TEMPLATE", str(ROOT))).resolve(),
            postgres_admin_url=get(
                "QS_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
            ),
        )


def base_env() -> dict[str, str]:
    """The environment a user's shell gives ``make``: the template's tools first on PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT", "MAKEFLAGS", "MAKELEVEL"}
        and key not in {"MFLAGS", "BENCH_AUTHORIZATION"}
        and not key.endswith(("_DATABASE_URL", "_ENVIRONMENT", "_SECRET_KEY"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["UV_NO_PROGRESS"] = "1"
    return env


# --- Processes -----------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        kids = children(pending.pop())
        found.extend(kids)
        pending.extend(kids)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def status_kib(pid: int, key: str) -> int | None:
    """A ``kB`` figure from /proc/<pid>/status (VmRSS, VmHWM), or None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rollup_kib(pid: int, *fields: str) -> int | None:
    """The sum of ``fields`` of /proc/<pid>/smaps_rollup in kB, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values = dict(re.findall(r"^(\w+):\s+(\d+) kB", text, re.M))
    return sum(int(values[field]) for field in fields)


def private_kib(pid: int) -> int | None:
    """Memory only ``pid`` holds (Private_Clean + Private_Dirty): what it would free by exiting,
    its shared pages (libraries, and what a forked worker shares with its parent) not counted."""
    return rollup_kib(pid, "Private_Clean", "Private_Dirty")


def pss_kib(pid: int) -> int | None:
    """``pid``'s proportional share of memory: each page divided by the processes that map it,
    so that the figures of a process tree add up to the memory it takes."""
    return rollup_kib(pid, "Pss")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def pinned(core: int, command: list[str]) -> list[str]:
    if shutil.which("taskset") and {SERVER_CORE, LOAD_CORE} <= os.sched_getaffinity(0):
        return ["taskset", "-c", str(core), *command]
    return command


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def run(command: list[str], cwd: Path, env: Mapping[str, str], what: str) -> float:
    """Run ``command`` to completion; its wall time. Stops the benchmark when it fails."""
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=cwd, env=dict(env), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise BenchError(
            f"{what} failed ({shlex.join(command)} exited {result.returncode}):\n{output}"
        )
    return time.monotonic() - started


@dataclass
class Server:
    """A server we started: the process we spawned, its worker (for CPU and RSS), its log."""

    label: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    started: float
    worker: int = 0
    ready_after: float = 0.0

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def python_processes(self) -> list[int]:
        """The server's Python processes (under ``make``), multiprocessing's helpers left out."""

        def python(pid: int) -> bool:
            line = cmdline(pid)
            return "python" in line and not any(marker in line for marker in TRACKER_MARKERS)

        return [pid for pid in [self.process.pid, *descendants(self.process.pid)] if python(pid)]

    def workers(self) -> list[int]:
        """The serving processes: Python processes of the tree that are not the parent of
        another (so the workers, not the supervisor; the server itself when it does not fork)."""
        tree = self.python_processes()
        return [pid for pid in tree if not any(child in tree for child in children(pid))]

    def find_worker(self) -> int:
        """The serving process, the largest by RSS if there are several."""
        workers = self.workers()
        if not workers:
            raise BenchError(f"{self.label}: no Python process found under {self.process.pid}.")
        self.worker = max(workers, key=lambda pid: status_kib(pid, "VmRSS") or 0)
        return self.worker

    def tree_rss_kib(self) -> int:
        pids = [self.process.pid, *descendants(self.process.pid)]
        return sum(status_kib(pid, "VmRSS") or 0 for pid in pids if "python" in cmdline(pid))

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the server (under ``make``: the process make exec'd), then wait for it."""
        if self.process.poll() is None:
            targets = [self.process.pid]
            if Path(cmdline(self.process.pid).split(" ")[0]).name == "make":
                targets = children(self.process.pid) or targets  # what the recipe exec'd
            for pid in targets:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.label} did not stop within {timeout} s of SIGTERM; killing it")
                for pid in [*descendants(self.process.pid), self.process.pid]:
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.process.wait(10)


def start_server(
    label: str, command: list[str], cwd: Path, env: Mapping[str, str], log_dir: Path, port: int
) -> Server:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{label}.log"
    with log_path.open("ab") as log_file:
        log_file.write(f"\n$ {shlex.join(command)}\n".encode())
        log_file.flush()
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Server(label, process, port, log_path, started)


def wait_ready(server: Server, path: str, timeout: float = 120) -> float:
    """Poll ``path`` until it answers 200; seconds since the server was spawned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log_path.read_text(errors="replace")[-3000:]
            raise BenchError(
                f"{server.label} exited with {server.process.returncode} before it was ready:\n{tail}"
            )
        with suppress(OSError, http.client.HTTPException):
            if request(server.base, "GET", path, timeout=2)[0] == 200:
                server.ready_after = time.monotonic() - server.started
                return server.ready_after
        time.sleep(0.01)
    raise BenchError(f"{server.label} did not answer 200 on {path} within {timeout} s.")


def request(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, Any]:
    """One HTTP request to 127.0.0.1; (status, parsed JSON or None)."""
    url = urllib.parse.urlsplit(base)
    if url.hostname != HOST:
        raise BenchError(f"refusing to send traffic to {url.hostname}: only {HOST} is loaded.")
    own = connection is None
    conn = connection or http.client.HTTPConnection(HOST, url.port, timeout=timeout)
    try:
        all_headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        content = response.read()
        return response.status, json.loads(content) if content else None
    finally:
        if own:
            conn.close()


# --- wrk -----------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk's path, installing it with apt-get when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt:
        log("wrk is missing: installing it with apt-get")
        quiet = {"capture_output": True, "check": False}
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run([apt, "install", "-y", "wrk"], env=env, **quiet).returncode != 0:
            subprocess.run([apt, "update"], env=env, **quiet)
            subprocess.run([apt, "install", "-y", "wrk"], env=env, **quiet)
        found = shutil.which("wrk")
    if not found:
        raise BenchError(
            "wrk is not installed and apt-get could not install it: install wrk "
            "(https://github.com/wg/wrk) and run the benchmark again."
        )
    return found


def wrk_version(wrk: str) -> str:
    result = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    first = (result.stdout + result.stderr).strip().splitlines()
    return first[0].split(" Copyright")[0] if first else "unknown"


def template_revision(template: Path) -> str:
    """The template's git commit, and whether its files had uncommitted changes."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(template), *args], capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "not a git checkout"
    # What is rendered: the prompts, the hooks and the project folder.
    dirty = git(
        "status", "--porcelain", "--", "cookiecutter.json", "hooks", "{{cookiecutter.project_slug}}"
    )
    return f"{commit} with uncommitted changes" if dirty else commit


def sample_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        rss = status_kib(pid, "VmRSS")
        if rss:
            peak[0] = max(peak[0], rss)
        stop.wait(0.1)


def run_wrk(
    wrk: str,
    server: Server,
    endpoint: str,
    duration: int,
    connections: int,
    items: int,
    authorization: str | None,
) -> dict[str, Any]:
    """One wrk run against ``server``; wrk's figures plus the worker's CPU and peak RSS."""
    script = BENCH / "lua" / ENDPOINTS[endpoint][0]
    command = pinned(
        LOAD_CORE,
        [
            wrk,
            f"-t{WRK_THREADS}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            server.base,
            "--",
            str(items),
        ],
    )
    env = {**os.environ, "BENCH_AUTHORIZATION": authorization or ""}
    peak = [status_kib(server.worker, "VmRSS") or 0]
    stop = threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(server.worker, stop, peak), daemon=True)
    log_offset = server.log_path.stat().st_size
    cpu_before, wall_before = cpu_seconds(server.worker), time.monotonic()
    sampler.start()
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=duration + 60, check=False
        )
    finally:
        stop.set()
        sampler.join()
    wall = time.monotonic() - wall_before
    cpu = cpu_seconds(server.worker) - cpu_before
    # What the server logged during the run, and as wrk closed its connections.
    time.sleep(0.3)
    with server.log_path.open("rb") as log_file:
        log_file.seek(log_offset)
        problems = log_problems(log_file.read().decode(errors="replace"))
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise BenchError(
            f"wrk failed against {server.label} {endpoint} (exit {result.returncode}):\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    figures = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = figures["duration_us"] / 1e6
    errors = figures["errors"]
    return {
        "requests": figures["requests"],
        "seconds": round(seconds, 3),
        "rps": round(figures["requests"] / seconds, 1),
        "p50_ms": figures["latency_us"]["p50"] / 1000,
        "p90_ms": figures["latency_us"]["p90"] / 1000,
        "p99_ms": figures["latency_us"]["p99"] / 1000,
        "max_ms": figures["latency_us"]["max"] / 1000,
        "ok_2xx": figures["ok_2xx"],
        "non_2xx": figures["non_2xx"],
        "status_errors": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "errors": errors,
        "cpu_pct": round(100 * cpu / wall, 1),
        "cpu_us_per_request": round(1e6 * cpu / max(figures["requests"], 1), 1),
        "peak_rss_kib": peak[0],
        "log_problems": problems,
    }


# --- Rendering and preparing a variant -----------------------------------------------------------


def jwt_hs256(secret: str, claims: Mapping[str, Any]) -> str:
    """A compact HS256 JSON Web Token (standard library only)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(dict(claims)).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


@dataclass
class Prepared:
    """A rendered, installed and migrated variant, with what it needs to serve."""

    variant: Variant
    project: Path
    answers: dict[str, Any]
    env: dict[str, str]
    server_name: str
    database: str | None = None
    authorization: str | None = None
    service: Server | None = None
    timings: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"{str(self.answers['package_name']).upper()}_"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": self.authorization} if self.authorization else {}


class Databases:
    """Throwaway PostgreSQL databases, dropped (WITH (FORCE)) at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.made: list[str] = []

    def psql(self, sql: str) -> None:
        command = ["psql", self.admin_url, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1"]
        result = subprocess.run([*command, "-c", sql], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BenchError(f"psql could not run {sql!r}: {result.stderr.strip()}")

    def create(self) -> str:
        """A new database; its asyncpg URL."""
        if not shutil.which("psql"):
            raise BenchError("psql is not installed: the PostgreSQL variant needs it.")
        name = f"qs_bench_{os.getpid()}_{len(self.made)}"
        self.psql(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        admin = urllib.parse.urlsplit(self.admin_url)
        return urllib.parse.urlunsplit(("postgresql+asyncpg", admin.netloc, f"/{name}", "", ""))

    def drop_all(self) -> None:
        for name in self.made:
            try:
                self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except BenchError as error:
                log(str(error))
        self.made.clear()


def render(template: Path, output_dir: Path, answers: Mapping[str, str]) -> Path:
    shutil.rmtree(output_dir, ignore_errors=True)
    output_dir.mkdir(parents=True)
    return Path(
        cookiecutter(
            str(template), no_input=True, output_dir=str(output_dir), extra_context=dict(answers)
        )
    )


def service_env(
    project: Path, variant: Variant, databases: Databases
) -> tuple[dict[str, Any], dict[str, str], str | None, str | None]:
    """The rendered answers, the service's environment, its database URL and auth header."""
    answers = json.loads((project / ".cookiecutter.json").read_text())
    prefix = f"{str(answers['package_name']).upper()}_"
    env = base_env()
    for key, value in {**SERVICE_ENV, **variant.env}.items():
        env[key.replace("{PREFIX}", prefix)] = value.replace("{PREFIX}", prefix)
    database = None
    if answers.get("database") == "postgresql":
        database = databases.create()
        env[f"{prefix}DATABASE_URL"] = database
    authorization = None
    if answers.get("auth") == "jwt":
        issuer = f"{answers['project_slug']}-bench"
        env.setdefault(f"{prefix}JWT_ISSUER", issuer)
        env.setdefault(f"{prefix}JWT_AUDIENCE", str(answers["project_slug"]))
        now = int(time.time())
        token = jwt_hs256(
            env[f"{prefix}JWT_SECRET_KEY"],
            {
                "sub": "bench",
                "iss": env[f"{prefix}JWT_ISSUER"],
                "aud": env[f"{prefix}JWT_AUDIENCE"],
                "iat": now,
                "nbf": now,
                "exp": now + 24 * 3600,
                "scope": os.environ.get("BENCH_JWT_SCOPES", "items:read items:write"),
            },
        )
        authorization = f"Bearer {token}"
    return answers, env, database, authorization


def start_service(prepared: Prepared, label: str, log_dir: Path, workers: int = 1) -> Server:
    """The variant's own `make serve` on a free port, its workers pinned to SERVER_CORE."""
    port = free_port()
    make = ["make", "--no-print-directory", "-C", str(prepared.project), "serve"]
    command = pinned(SERVER_CORE, [*make, f"HOST={HOST}", f"PORT={port}", f"WORKERS={workers}"])
    return start_server(label, command, prepared.project, prepared.env, log_dir, port)


def prepare(variant: Variant, config: Config, databases: Databases) -> Prepared:
    """Render, install and migrate ``variant``."""
    folder = config.build_dir / variant.name
    log(f"{variant.name}: rendering into {folder}")
    started = time.monotonic()
    project = render(config.template, folder, variant.answers)
    rendered = time.monotonic() - started
    answers, env, database, authorization = service_env(project, variant, databases)
    prepared = Prepared(
        variant,
        project,
        answers,
        env,
        str(answers.get("server", "hypercorn")),
        database,
        authorization,
    )
    prepared.timings["render"] = rendered
    log(f"{variant.name}: make install")
    prepared.timings["install"] = run(
        ["make", "-C", str(project), "install"], project, env, f"{variant.name}: make install"
    )
    log(f"{variant.name}: make migrate")
    prepared.timings["migrate"] = run(
        ["make", "-C", str(project), "migrate"], project, env, f"{variant.name}: make migrate"
    )
    prepared.facts["python"] = subprocess.run(
        [str(project / ".venv/bin/python"), "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    prepared.facts["versions"] = package_versions(project / ".venv/bin/python")
    return prepared


def package_versions(python: Path) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m\n"
        "found = {}\n"
        f"for name in {VERSION_PACKAGES!r}:\n"
        "    try:\n"
        "        found[name] = m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
        "print(json.dumps(found))\n"
    )
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout))


def seed(prepared: Prepared, count: int) -> float:
    """POST ``count`` items over one keep-alive connection; seconds taken."""
    assert prepared.service is not None
    started = time.monotonic()
    connection = http.client.HTTPConnection(HOST, prepared.service.port, timeout=30)
    try:
        for number in range(1, count + 1):
            status, body = request(
                prepared.service.base,
                "POST",
                "/api/v1/items",
                {"name": f"seed-{number}", "description": "seeded by bench/bench.py"},
                prepared.headers,
                connection=connection,
            )
            if status != 201:
                raise BenchError(f"seeding item {number} answered {status}: {body}")
    finally:
        connection.close()
    return time.monotonic() - started


def count_items(prepared: Prepared) -> int:
    """Items stored, counted by following the list's pages to the last."""
    assert prepared.service is not None
    count, path = 0, "/api/v1/items?limit=100"
    connection = http.client.HTTPConnection(HOST, prepared.service.port, timeout=30)
    try:
        while path:
            status, body = request(
                prepared.service.base, "GET", path, headers=prepared.headers, connection=connection
            )
            if status != 200:
                raise BenchError(
                    f"{prepared.variant.name}: counting items answered {status}: {body}"
                )
            count += len(body["items"])
            path = body["next"]
    finally:
        connection.close()
    return count


def server_binary(prepared: Prepared, config: Config, env: Mapping[str, str]) -> Path:
    """The folder holding the variant's server executable: the project's venv, or a bench-only
    venv with the same Quart when the project does not have that server."""
    own = prepared.project / ".venv" / "bin"
    if (own / prepared.server_name).exists():
        return own
    venv = config.build_dir / f"_server-{prepared.server_name}"
    if not (venv / "bin" / prepared.server_name).exists():
        quart = prepared.facts["versions"].get("quart")
        python = str(own / "python")
        log(f"installing {prepared.server_name} into {venv} for the reference apps")
        run(["uv", "venv", "--python", python, str(venv)], ROOT, env, "uv venv")
        requirements = [prepared.server_name, f"quart=={quart}" if quart else "quart"]
        run(
            ["uv", "pip", "install", "--python", str(venv / "bin/python"), *requirements],
            ROOT,
            env,
            f"installing {prepared.server_name}",
        )
    return venv / "bin"


# --- The run -------------------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    kind: str  # "service" or a REFERENCE_APPS key
    server: Server
    endpoints: list[str]
    prepared: Prepared | None = None
    server_name: str = ""
    idle_rss_kib: int = 0
    idle_tree_rss_kib: int = 0
    idle_private_kib: int = 0
    loaded_rss_kib: int = 0


def machine_info(wrk: str) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.MULTILINE)
    return {
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory.group(1)) / 2**20, 1) if memory else None,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "wrk": wrk_version(wrk),
        "pinning": "taskset" if pinned(0, []) else "none (taskset missing or fewer than 2 cores)",
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def log_problems(text: str) -> dict[str, int]:
    return {name: len(pattern.findall(text)) for name, pattern in LOG_PROBLEMS.items()}


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


@contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so the servers and databases are cleaned up."""

    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def benchmark(config: Config) -> dict[str, Any]:
    wrk = ensure_wrk()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command_text(),
        "machine": machine_info(wrk),
        "config": {
            "runs": config.runs,
            "duration_s": config.duration,
            "warmup_s": config.warmup,
            "connections": config.connections,
            "wrk_threads": WRK_THREADS,
            "items": config.items,
            "paired": config.paired,
            "template": str(config.template),
            "template_revision": template_revision(config.template),
        },
        "variants": {},
        "targets": {},
        "runs": [],
        "writes": [],
    }
    databases = Databases(config.postgres_admin_url)
    servers: list[Server] = []
    log_dir = config.build_dir / "logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    try:
        targets = start_targets(config, databases, servers, log_dir, results)
        rounds(config, wrk, targets, results)
        for target in targets:
            target.server.stop()
            results["targets"][target.label].update(
                loaded_rss_kib=target.loaded_rss_kib,
                log_problems=log_problems(target.server.log_path.read_text(errors="replace")),
            )
        for target in targets:
            if target.prepared is not None:
                cold_starts(target.prepared, config, log_dir, servers, results)
                if config.memory_workers > 1:
                    worker_memory(target.prepared, config, log_dir, servers, results)
        if config.render_to_ready:
            for target in targets:
                if target.prepared is not None:
                    render_to_ready(target.prepared, config, databases, log_dir, servers, results)
    finally:
        for server in servers:
            server.stop()
        databases.drop_all()
    results["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    results["summary"] = summarize(results)
    return results


def start_targets(
    config: Config,
    databases: Databases,
    servers: list[Server],
    log_dir: Path,
    results: dict[str, Any],
) -> list[Target]:
    """Prepare every variant and serve it, with the reference apps of each server used."""
    targets: list[Target] = []
    references: dict[str, list[Target]] = {}
    for variant in config.variants:
        prepared = prepare(variant, config, databases)
        server = start_service(prepared, f"{variant.name}-service", log_dir)
        servers.append(server)
        prepared.service = server
        wait_ready(server, "/readyz")
        time.sleep(0.5)
        server.find_worker()
        target = Target(
            server.label,
            "service",
            server,
            list(ENDPOINTS),
            prepared,
            prepared.server_name,
            status_kib(server.worker, "VmRSS") or 0,
            server.tree_rss_kib(),
            private_kib(server.worker) or 0,
        )
        log(f"{variant.name}: seeding {config.items} items")
        prepared.timings["seed"] = seed(prepared, config.items)
        targets.append(target)
        results["variants"][variant.name] = {
            "answers": variant.answers,
            "rendered_answers": {
                key: value for key, value in prepared.answers.items() if not key.startswith("_")
            },
            "server": prepared.server_name,
            "python": prepared.facts["python"],
            "versions": prepared.facts["versions"],
            "timings_s": {key: round(value, 2) for key, value in prepared.timings.items()},
            "env": sorted(
                key for key in prepared.env if key.startswith(prepared.prefix)
            ),  # names only: the values hold secrets
            "authorization": "Bearer JWT (HS256)" if prepared.authorization else None,
        }
        if prepared.server_name not in references:
            references[prepared.server_name] = []
            bin_dir = server_binary(prepared, config, prepared.env)
            for kind, (app, _) in REFERENCE_APPS.items():
                port = free_port()
                command = SERVERS[prepared.server_name].format(
                    bin=bin_dir, config_dir=prepared.project, host=HOST, port=port, target=app
                )
                env = {**base_env(), "PYTHONPATH": str(BENCH / "apps")}
                ref = start_server(
                    f"{prepared.server_name}-{kind}",
                    pinned(SERVER_CORE, shlex.split(command)),
                    BENCH / "apps",
                    env,
                    log_dir,
                    port,
                )
                servers.append(ref)
                wait_ready(ref, "/healthz")
                time.sleep(0.5)
                ref.find_worker()
                references[prepared.server_name].append(
                    Target(
                        ref.label,
                        kind,
                        ref,
                        ["healthz"],
                        None,
                        prepared.server_name,
                        status_kib(ref.worker, "VmRSS") or 0,
                        ref.tree_rss_kib(),
                        private_kib(ref.worker) or 0,
                    )
                )
    all_targets = [ref for refs in references.values() for ref in refs] + targets
    for target in all_targets:
        results["targets"][target.label] = {
            "kind": target.kind,
            "server": target.server_name,
            "variant": target.prepared.variant.name if target.prepared else None,
            "command": shlex.join(target.server.process.args),
            "ready_after_s": round(target.server.ready_after, 3),
            "idle_rss_kib": target.idle_rss_kib,
            "idle_tree_rss_kib": target.idle_tree_rss_kib,
            "idle_private_kib": target.idle_private_kib,
        }
    return all_targets


def measure(
    config: Config,
    wrk: str,
    target: Target,
    endpoint: str,
    number: int,
    results: dict[str, Any],
    paired_with: str | None = None,
) -> dict[str, Any]:
    """One timed wrk run of round ``number``, recorded in ``results["runs"]`` and logged.
    ``paired_with`` ("<service label>/<endpoint>") marks a hello run made for that service run."""
    figures = run_wrk(
        wrk,
        target.server,
        endpoint,
        config.duration,
        config.connections,
        config.items,
        target.prepared.authorization if target.prepared else None,
    )
    target.loaded_rss_kib = max(target.loaded_rss_kib, figures["peak_rss_kib"])
    mark = {"paired_with": paired_with} if paired_with else {}
    results["runs"].append(
        {"round": number, "target": target.label, "endpoint": endpoint, **mark, **figures}
    )
    name = f"{target.label} paired" if paired_with else target.label
    log(
        f"  {name:22} {endpoint:8} {figures['rps']:9.1f} req/s  "
        f"p99 {figures['p99_ms']:7.2f} ms  cpu {figures['cpu_pct']:5.1f}%  "
        f"non-2xx {figures['non_2xx']}  logged errors {figures['log_problems']['error_lines']}"
    )
    return figures


def rounds(config: Config, wrk: str, targets: list[Target], results: dict[str, Any]) -> None:
    """Warm every (target, endpoint) up, then run each once per round; with ``config.paired``,
    every service run comes straight after a run of its server's Quart hello ``/healthz``."""
    hello = {target.server_name: target for target in targets if target.kind == "hello"}
    if config.warmup:
        log(f"warm-up: {config.warmup} s per (target, endpoint)")
        for target in targets:
            for endpoint in target.endpoints:
                run_wrk(
                    wrk,
                    target.server,
                    endpoint,
                    config.warmup,
                    config.connections,
                    config.items,
                    target.prepared.authorization if target.prepared else None,
                )
    for number in range(1, config.runs + 1):
        log(f"round {number}/{config.runs}: {config.duration} s per (target, endpoint)")
        for target in targets:
            for endpoint in target.endpoints:
                if config.paired and target.kind == "service":
                    pair = f"{target.label}/{endpoint}"
                    measure(
                        config, wrk, hello[target.server_name], "healthz", number, results, pair
                    )
                prepared = target.prepared
                before = count_items(prepared) if prepared and endpoint == "create" else 0
                figures = measure(config, wrk, target, endpoint, number, results)
                if prepared and endpoint == "create":
                    # Let requests that were in flight when wrk stopped finish before counting.
                    time.sleep(0.5)
                    after = count_items(prepared)
                    added = after - before
                    results["writes"].append(
                        {
                            "round": number,
                            "target": target.label,
                            "rows_before": before,
                            "rows_after": after,
                            "rows_added": added,
                            "ok_2xx": figures["ok_2xx"],
                            # Acknowledged (2xx) but not stored: real lost writes.
                            "lost": max(0, figures["ok_2xx"] - added),
                            # Stored but never acknowledged: in flight when wrk closed its sockets.
                            "unacknowledged": max(0, added - figures["ok_2xx"]),
                        }
                    )


def cold_starts(
    prepared: Prepared,
    config: Config,
    log_dir: Path,
    servers: list[Server],
    results: dict[str, Any],
) -> None:
    """Spawn ``make serve`` until /readyz answers 200, ``config.cold_starts`` times."""
    name = prepared.variant.name
    log(f"{name}: {config.cold_starts} cold starts")
    times, idle = [], []
    for _ in range(config.cold_starts):
        server = start_service(prepared, f"{name}-cold-start", log_dir)
        servers.append(server)
        try:
            times.append(wait_ready(server, "/readyz"))
            time.sleep(0.5)
            idle.append(status_kib(server.find_worker(), "VmRSS") or 0)
        finally:
            server.stop()
            servers.remove(server)
    results["variants"][name].update(
        cold_start_s=[round(value, 3) for value in times],
        cold_start_median_s=round(median(times), 3),
        cold_start_idle_rss_kib=idle,
    )


def worker_memory(
    prepared: Prepared,
    config: Config,
    log_dir: Path,
    servers: list[Server],
    results: dict[str, Any],
) -> None:
    """``make serve`` with ``config.memory_workers`` workers: their memory once all started."""
    name, count = prepared.variant.name, config.memory_workers
    log(f"{name}: memory with {count} workers")
    server = start_service(prepared, f"{name}-{count}-workers", log_dir, count)
    servers.append(server)
    try:
        wait_ready(server, "/readyz")
        deadline = time.monotonic() + 60
        while len(server.workers()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(MEMORY_SETTLE_SECONDS)
        processes = server.python_processes()
        workers = server.workers()
        if len(workers) != count:
            raise BenchError(f"{server.label}: {len(workers)} workers, not {count}.")
        results["variants"][name]["workers_memory"] = {
            "workers": count,
            "processes": len(processes),
            "pss_kib": sum(pss_kib(pid) or 0 for pid in processes),
            "worker_private_kib": [private_kib(pid) or 0 for pid in workers],
            "worker_rss_kib": [status_kib(pid, "VmRSS") or 0 for pid in workers],
        }
    finally:
        server.stop()
        servers.remove(server)


def render_to_ready(
    prepared: Prepared,
    config: Config,
    databases: Databases,
    log_dir: Path,
    servers: list[Server],
    results: dict[str, Any],
) -> None:
    """A second render into a fresh folder (the package cache is warm): render, install,
    migrate, serve until /readyz answers 200."""
    variant = prepared.variant
    log(f"{variant.name}: render-to-ready")
    folder = config.build_dir / f"{variant.name}-render-to-ready"
    phases: dict[str, float] = {}
    started = time.monotonic()
    project = render(config.template, folder, variant.answers)
    phases["render"] = time.monotonic() - started
    _, env, _, _ = service_env(project, variant, databases)
    phases["install"] = run(["make", "-C", str(project), "install"], project, env, "make install")
    phases["migrate"] = run(["make", "-C", str(project), "migrate"], project, env, "make migrate")
    second = Prepared(variant, project, prepared.answers, env, prepared.server_name)
    server = start_service(second, f"{variant.name}-render-to-ready", log_dir)
    servers.append(server)
    try:
        phases["serve"] = wait_ready(server, "/readyz")
    finally:
        server.stop()
        servers.remove(server)
    total = time.monotonic() - started
    results["variants"][variant.name]["render_to_ready"] = {
        "total_s": round(total, 2),
        **{f"{key}_s": round(value, 2) for key, value in phases.items()},
    }


# --- Report --------------------------------------------------------------------------------------


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Medians per (target, endpoint), and the service's ratios to the reference apps.

    The rows come from the interleaved runs only: paired hello runs serve the ratios alone.
    ``vs_hello`` is the median over rounds of the service's req/s ÷ its paired hello run's
    (``vs_hello_rounds``), or, without paired runs, the ratio of medians (``vs_hello_unpaired``);
    ``vs_raw`` is always the ratio of medians."""
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    paired_rps: dict[tuple[int, str], float] = {}  # (round, "<service label>/<endpoint>")
    for run_figures in results["runs"]:
        if "paired_with" in run_figures:
            paired_rps[(run_figures["round"], run_figures["paired_with"])] = run_figures["rps"]
        else:
            key = (run_figures["target"], run_figures["endpoint"])
            rows.setdefault(key, []).append(run_figures)
    summary = []
    for (label, endpoint), runs in rows.items():
        rps = [r["rps"] for r in runs]
        summary.append(
            {
                "target": label,
                "endpoint": endpoint,
                "runs": len(runs),
                "rps": round(median(rps), 1),
                "rps_min": min(rps),
                "rps_max": max(rps),
                "p50_ms": round(median([r["p50_ms"] for r in runs]), 2),
                "p99_ms": round(median([r["p99_ms"] for r in runs]), 2),
                "cpu_pct": round(median([r["cpu_pct"] for r in runs]), 1),
                "cpu_us_per_request": round(median([r["cpu_us_per_request"] for r in runs]), 1),
                "non_2xx": sum(r["non_2xx"] for r in runs),
                "socket_errors": sum(r["socket_errors"] for r in runs),
                "log_errors": sum(r["log_problems"]["error_lines"] for r in runs),
                "log_database_locked": sum(r["log_problems"]["database_locked"] for r in runs),
            }
        )
    by_key = {(row["target"], row["endpoint"]): row for row in summary}
    for (label, endpoint), runs in rows.items():
        row, target = by_key[(label, endpoint)], results["targets"][label]
        if target["kind"] != "service":
            continue
        for kind in REFERENCE_APPS:
            reference = by_key.get((f"{target['server']}-{kind}", "healthz"))
            if reference and reference["rps"]:
                row[f"vs_{kind}"] = round(row["rps"] / reference["rps"], 3)
        if "vs_hello" in row:
            pairs = [(r["rps"], paired_rps.get((r["round"], f"{label}/{endpoint}"))) for r in runs]
            ratios = [service / hello for service, hello in pairs if hello]
            row["vs_hello_unpaired"] = row["vs_hello"]
            row["vs_hello_rounds"] = [round(ratio, 3) for ratio in ratios]
            if ratios:
                row["vs_hello"] = round(median(ratios), 3)
    return summary


def command_text() -> str:
    settings = " ".join(
        f"{key}={shlex.quote(value)}"
        for key, value in sorted(os.environ.items())
        if key.startswith("BENCH_") and value and key not in {"BENCH_AUTHORIZATION"}
    )
    base = "make bench" if "MAKELEVEL" in os.environ else ".venv/bin/python bench/bench.py"
    return f"{settings} {base}".strip()


def mib(kib: int | None) -> str:
    return f"{kib / 1024:.1f} MiB" if kib else "n/a"


def table(header: list[str], rows: list[list[str]], text_columns: int = 1) -> str:
    """A Markdown table: the first ``text_columns`` left-aligned, the figures right-aligned."""
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" if i < text_columns else "---:" for i in range(len(header))) + " |",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def figure_cells(row: dict[str, Any]) -> list[str]:
    return [
        f"{row['rps']:,.0f}",
        f"{row['rps_min']:,.0f}{EN_DASH}{row['rps_max']:,.0f}",
        f"{row['p50_ms']:.2f}",
        f"{row['p99_ms']:.2f}",
        f"{row['cpu_pct']:.0f}%",
        f"{row['cpu_us_per_request']:,.0f}",
        f"{row['non_2xx']}",
        f"{row['socket_errors']}",
        f"{row['log_errors']}",
    ]


FIGURE_HEADER = [
    "req/s (median)",
    "spread",
    "p50 ms",
    "p99 ms",
    "server CPU",
    "CPU µs/req",
    "non-2xx",
    "socket errors",
    "logged errors",
]


def render_report(results: dict[str, Any], notes: str) -> str:
    machine, cfg = results["machine"], results["config"]
    summary = {(row["target"], row["endpoint"]): row for row in results["summary"]}
    # Figures saved before paired runs existed (or with BENCH_PAIRED=0) have only the ratio of
    # medians, in vs_hello.
    paired = any(row.get("vs_hello_rounds") for row in results["summary"])
    if paired:
        pairing = (
            "; each service run comes straight after a Quart hello `/healthz` run, as long, on "
            "the same server (a paired run)"
        )
        ratios = (
            '"÷ Quart hello" is the median over rounds of the service\'s req/s divided by the '
            'Quart hello run made straight before it on the same server ("÷ hello, per round" '
            "lists each round's ratio), so drift of the machine between runs far apart in time "
            'stays out of it; "÷ raw ASGI" divides the service\'s median req/s by the raw '
            "app's `/healthz` median on the same server in the same run. The reference apps' "
            "own rows come from their interleaved runs only, not from the paired runs."
        )
    else:
        pairing = ""
        ratios = (
            "Ratios divide the service's median req/s by the reference app's `/healthz` median "
            "on the same server in the same run."
        )
    out = [
        "# Benchmarks",
        "",
        "<!-- Written by bench/bench.py (`make bench`); edit only the notes at the end. -->",
        "",
        f"- **Command:** `{results['command']}`",
        f"- **Date:** {results['date']}",
        f"- **Machine:** {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB, {machine['kernel']}; harness Python {machine['python']}; "
        f"load average {' / '.join(machine['loadavg_start'])} at the start, "
        f"{' / '.join(machine.get('loadavg_end', ['?']))} at the end",
        f"- **Load:** {machine['wrk']}, `wrk -t{cfg['wrk_threads']} -c{cfg['connections']} "
        f"-d{cfg['duration_s']}s --latency` pinned to core {LOAD_CORE}; each server runs one "
        f"worker pinned to core {SERVER_CORE} (pinning: {machine['pinning']}); "
        f"{cfg['warmup_s']} s untimed warm-up per (target, endpoint), then {cfg['runs']} "
        f"interleaved round(s): every round runs each (target, endpoint) once{pairing}",
        f"- **Data:** {cfg['items']} items seeded before the runs; the POST runs add rows, "
        "so the table grows during the benchmark (see the writes below)",
        f"- **Template:** revision {cfg.get('template_revision', 'unknown')}",
        "",
        "Server CPU is the worker process's user + system time over the run, as a percentage of "
        f"one core (100%: the server was the bottleneck), and per request. {ratios} Non-2xx "
        "counts every response outside 200-299; socket errors are wrk's connect, read, write "
        "and timeout errors; logged errors are the ERROR lines the server wrote during the run "
        "(including while wrk closed its connections). The machine has 2 cores: the load "
        "average shows whether anything else ran at the same time.",
        "",
    ]
    for name, variant in results["variants"].items():
        out += [f"## Variant `{name}`", ""]
        answers = variant["rendered_answers"]
        choices = ", ".join(
            f"{key}={answers[key]}"
            for key in ("database", "server", "auth", "rate_limit", "python_version")
            if key in answers
        )
        out += [
            f"Answers {json.dumps(variant['answers'])} ({choices}); server `{variant['server']}`; "
            f"Python {variant['python']}.",
            "",
        ]
        label = f"{name}-service"
        rows = []
        for endpoint, (_, description) in ENDPOINTS.items():
            row = summary.get((label, endpoint))
            if row is None:
                continue
            per_round = " ".join(f"{ratio:.2f}" for ratio in row.get("vs_hello_rounds", []))
            rows.append(
                [
                    f"`{description}`",
                    *figure_cells(row),
                    f"{row.get('vs_hello', 0):.2f}{TIMES}",
                    *([per_round] if paired else []),
                    f"{row.get('vs_raw', 0):.2f}{TIMES}",
                ]
            )
        ratio_header = ["÷ Quart hello", *(["÷ hello, per round"] if paired else []), "÷ raw ASGI"]
        out += [table(["endpoint", *FIGURE_HEADER, *ratio_header], rows), ""]
        target = results["targets"][label]
        writes = [w for w in results["writes"] if w["target"] == label]
        out += [
            table(
                ["measure", "value"],
                [
                    [
                        "cold start (`make serve` → first 200 from `/readyz`), median",
                        f"{variant.get('cold_start_median_s', 0):.2f} s "
                        f"({', '.join(f'{t:.2f}' for t in variant.get('cold_start_s', []))})",
                    ],
                    ["idle RSS, worker (after start)", mib(target["idle_rss_kib"])],
                    ["idle RSS, all server processes", mib(target["idle_tree_rss_kib"])],
                    [
                        "idle private memory, worker (one worker: what it would free by exiting)",
                        mib(target.get("idle_private_kib")),
                    ],
                    ["loaded RSS, worker (max during the runs)", mib(target.get("loaded_rss_kib"))],
                    *workers_memory_rows(variant.get("workers_memory")),
                    render_to_ready_cell(variant.get("render_to_ready")),
                    [
                        "first render: render / install / migrate / seed",
                        " / ".join(
                            f"{variant['timings_s'].get(key, 0):.1f} s"
                            for key in ("render", "install", "migrate", "seed")
                        ),
                    ],
                    [
                        "writes: POST 2xx / rows added / lost / unacknowledged",
                        f"{sum(w['ok_2xx'] for w in writes)} / "
                        f"{sum(w['rows_added'] for w in writes)} / "
                        f"{sum(w['lost'] for w in writes)} / "
                        f"{sum(w['unacknowledged'] for w in writes)}",
                    ],
                    [
                        "rows at the end",
                        str(writes[-1]["rows_after"]) if writes else "n/a",
                    ],
                    ["server log", problems_text(target.get("log_problems", {}))],
                ],
            ),
            "",
        ]
        versions = ", ".join(f"{k} {v}" for k, v in variant["versions"].items())
        out += [f"Versions: {versions}.", ""]
    out += ["## Reference apps", ""]
    rows = []
    for label, target in results["targets"].items():
        if target["kind"] == "service":
            continue
        row = summary.get((label, "healthz"))
        if row is None:
            continue
        rows.append(
            [
                f"{REFERENCE_APPS[target['kind']][1]} (`{target['server']}`)",
                *figure_cells(row),
                mib(target["idle_rss_kib"]),
                mib(target.get("loaded_rss_kib")),
            ]
        )
    out += [
        "The same server, configuration and pinning as the service (`bench/apps/`), "
        '`GET /healthz` answering `{"status":"ok"}`.',
        "",
        table(["app", *FIGURE_HEADER, "idle RSS", "loaded RSS"], rows),
        "",
        "## Every run",
        "",
        "<details><summary>Per-run figures (all of them are in "
        f"<code>{results.get('results_file', 'bench/results.json')}</code>)</summary>",
        "",
        table(
            [
                "round",
                "target",
                "endpoint",
                "req/s",
                "p50 ms",
                "p99 ms",
                "CPU",
                "non-2xx",
                "socket errors",
                "logged errors",
            ],
            [
                [
                    str(r["round"]),
                    f"{r['target']} (paired with {r['paired_with']})"
                    if "paired_with" in r
                    else r["target"],
                    r["endpoint"],
                    f"{r['rps']:,.0f}",
                    f"{r['p50_ms']:.2f}",
                    f"{r['p99_ms']:.2f}",
                    f"{r['cpu_pct']:.0f}%",
                    str(r["non_2xx"]),
                    str(r["socket_errors"]),
                    str(r["log_problems"]["error_lines"]),
                ]
                for r in results["runs"]
            ],
            text_columns=3,
        ),
        "",
        "</details>",
        "",
        "## Notes and trade-offs",
        "",
        NOTES_MARKER,
    ]
    return "\n".join(out) + "\n" + notes


def workers_memory_rows(figures: dict[str, Any] | None) -> list[list[str]]:
    """The report's rows for the memory of several workers, when it was measured."""
    if not figures:
        return []
    count = figures["workers"]
    return [
        [
            f"{count} workers, idle: memory of all {figures['processes']} server processes (PSS)",
            mib(figures["pss_kib"]),
        ],
        [
            f"{count} workers, idle: private memory a worker, median (what one more adds)",
            mib(int(median([float(kib) for kib in figures["worker_private_kib"]]))),
        ],
    ]


def render_to_ready_cell(figures: dict[str, float] | None) -> list[str]:
    name = "render-to-ready (second render, warm cache): render + install + migrate + serve"
    if not figures:
        return [name, "not measured"]
    return [
        name,
        f"{figures['total_s']:.1f} s ({figures['render_s']:.1f} + {figures['install_s']:.1f} + "
        f"{figures['migrate_s']:.1f} + {figures['serve_s']:.1f})",
    ]


def problems_text(problems: dict[str, int]) -> str:
    found = [f"{count} {name.replace('_', ' ')}" for name, count in problems.items() if count]
    return ", ".join(found) if found else "clean (no tracebacks, errors, 5xx or locks)"


def existing_notes(path: Path) -> str:
    """Whatever follows the notes marker in the current report (the hand-written notes)."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if NOTES_MARKER in text:
            return text.split(NOTES_MARKER, 1)[1].lstrip("\n")
    return NOTES_PLACEHOLDER


def main(argv: list[str]) -> int:
    """Benchmark and report; with ``--report``, only rewrite the report from the saved figures."""
    try:
        config = Config.from_env(os.environ)
        if argv == ["--report"]:
            try:
                results = json.loads(config.results.read_text(encoding="utf-8"))
            except OSError as error:
                raise BenchError(f"no saved figures to report: {error}") from None
        elif argv:
            raise BenchError(f"unknown arguments {' '.join(argv)}: the only one is --report.")
        else:
            with terminate_on_sigterm():
                results = benchmark(config)
            try:
                results["results_file"] = str(config.results.relative_to(ROOT))
            except ValueError:
                results["results_file"] = str(config.results)
            config.results.parent.mkdir(parents=True, exist_ok=True)
            config.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    notes = existing_notes(config.output)
    config.output.parent.mkdir(parents=True, exist_ok=True)
    config.output.write_text(render_report(results, notes), encoding="utf-8")
    log(f"wrote {config.output}" + ("" if argv else f" and {config.results}"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
