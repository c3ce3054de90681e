"""Rate limits per client address on every API route (quart-rate-limiter, GCRA).

Over the limit, a request gets a 429 with ``Retry-After``; every limited response carries
``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``. Health checks, the
OpenAPI document and docs are never limited.
{%- if cookiecutter.rate_limit == "memory" %}

The counts live in each worker process's memory: with N workers a client may make up to N
times the limit. Choose Redis when that matters.
{%- else %}

The counts live in Redis, shared by every worker and machine. If Redis cannot be reached the
limiter lets requests through (and logs it) rather than take the API down with it.
{%- endif %}
"""

from __future__ import annotations

{% if cookiecutter.rate_limit == "memory" -%}
import heapq
{% endif -%}
import ipaddress
import logging
import time
from abc import abstractmethod
from collections.abc import {% if cookiecutter.rate_limit == "memory" %}Callable, {% endif %}Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from math import ceil
{%- if cookiecutter.rate_limit == "memory" %}
from operator import itemgetter
{%- endif %}
from typing import NamedTuple, cast

from quart import Quart, Response, current_app, g, request
from quart_rate_limiter import (
    KeyCallable,
    RateLimit,
    RateLimiter,
    RateLimitExceeded,
    SkipCallable,
)
from quart_rate_limiter.store import RateLimiterStoreABC
{%- if cookiecutter.rate_limit == "redis" %}
from redis import asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError
{%- endif %}

from .blueprints import api
from .config import Settings
{%- if cookiecutter.rate_limit == "redis" %}
from .logs import summary
{%- endif %}

# The block of addresses an IPv6 client is counted by (client_address).
IPV6_CLIENT_PREFIX = 64

{% if cookiecutter.rate_limit == "memory" -%}
# Forget clients whose limit has fully recovered once this many are remembered, and remember
# at most MAX_CLIENTS (see MemoryStore).
PRUNE_AT = 10_000
MAX_CLIENTS = 100_000
{%- else -%}
WARN_EVERY_SECONDS = 60.0
# GCRA for one request against every limit of its route, in one step on the Redis server and
# by its clock, so that the scripts' "now" rises in the order they run, whichever worker sent
# them. KEYS: one per limit. ARGV: each limit's interval and burst (seconds). Replies 1 when
# the request is counted (0 when a limit refuses it, and nothing is written), then how far
# ahead of now each key's arrival time was, as text with every digit (Redis would truncate a
# number to an integer), so that the limiter reads the figures the script compared.
COUNT_SCRIPT = """
local time = redis.call("TIME")
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local waits = {}
local counted = 1
for i, key in ipairs(KEYS) do
    local tat = math.max(tonumber(redis.call("GET", key) or now), now)
    waits[i] = tat - now
    if waits[i] > tonumber(ARGV[2 * i]) then
        counted = 0
    end
end
local reply = {counted}
for i, key in ipairs(KEYS) do
    if counted == 1 then
        local tat = now + waits[i] + tonumber(ARGV[2 * i - 1])
        redis.call("SET", key, string.format("%.6f", tat), "PXAT", math.floor(tat * 1000) + 1)
    end
    reply[i + 1] = string.format("%.17g", waits[i])
end
return reply
"""
{%- endif %}

# The library's switch (app.config), which RateLimiter(enabled=...) sets.
ENABLED = "QUART_RATE_LIMITER_ENABLED"

logger = logging.getLogger(__name__)


class Limit(NamedTuple):
    """One limit as it applies to one client: its store key, and its figures in seconds (GCRA:
    a request every ``interval`` at the steady rate, and up to ``burst`` ahead of it)."""

    key: str
    interval: float
    burst: float


class CountingStore(RateLimiterStoreABC):
    """Where :class:`APIRateLimiter` keeps each client's theoretical arrival times.

    It checks a request against every limit of its route and counts it in one step, so that
    two requests at once cannot both take a client's last one; quart-rate-limiter's ``get``
    and ``set`` would read, await, then write.
    """

    @abstractmethod
    async def count(self, limits: Sequence[Limit]) -> tuple[bool, list[float] | None]:
        """Whether the request is counted, and for each limit how many seconds its arrival
        time was ahead of now (0 when behind), by the store's own clock. The request is
        counted when every one is within its limit's burst: each arrival time then moves on by
        its limit's interval. A store that could not count (unreachable) lets the request
        through with no figures (None), and the response claims no limit.
        """

    async def get(self, key: str, default: datetime) -> datetime:
        raise NotImplementedError("APIRateLimiter reads and writes with count()")

    async def set(self, key: str, tat: datetime) -> None:
        raise NotImplementedError("APIRateLimiter reads and writes with count()")
{%- if cookiecutter.rate_limit == "memory" %}


class MemoryStore(CountingStore):
    """Theoretical arrival times in a dict that forgets clients who are back to a full limit.

    Forgetting walks the whole dict, so it waits until the dict has doubled since it last did:
    a request pays for it now and then, not on every request. When more than half of
    ``max_clients`` are still within their limits (many addresses at once, as from an IPv6
    range), the half closest to a full limit is forgotten too and starts afresh: the memory
    stays bounded, whatever the number of addresses.
    """

    def __init__(
        self,
        prune_at: int = PRUNE_AT,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}
        self._first_prune_at = self._prune_at = prune_at
        self._max_clients = max_clients

    def __len__(self) -> int:
        """How many clients are remembered."""
        return len(self._tats)

    async def before_serving(self) -> None:
        """Nothing to open."""

    async def after_serving(self) -> None:
        self._tats.clear()

    async def count(self, limits: Sequence[Limit]) -> tuple[bool, list[float]]:
        # Nothing here awaits: no other request runs between the reads and the writes.
        now = self._clock()
        waits = [max(self._tats.get(limit.key, now) - now, 0.0) for limit in limits]
        counted = all(wait <= limit.burst for wait, limit in zip(waits, limits, strict=True))
        if counted:
            if len(self._tats) >= self._prune_at:
                self._prune(now)
            for wait, limit in zip(waits, limits, strict=True):
                self._tats[limit.key] = now + wait + limit.interval
        return counted, waits

    def _prune(self, now: float) -> None:
        tats = {key: tat for key, tat in self._tats.items() if tat > now}
        keep = self._max_clients // 2
        if len(tats) > keep:
            logger.warning(
                "Rate limiting %d clients at once: forgetting the %d closest to a full limit",
                len(tats),
                len(tats) - keep,
            )
            tats = dict(heapq.nlargest(keep, tats.items(), key=itemgetter(1)))
        self._tats = tats
        self._prune_at = max(self._first_prune_at, 2 * len(tats))
{%- else %}


class RedisStore(CountingStore):
    """Theoretical arrival times in Redis, each expiring when its client is back to a full limit;
    a request is checked and counted by one script, atomically for every worker and machine."""

    def __init__(self, url: str, prefix: str, timeout_seconds: float) -> None:
        self._url = url
        self._prefix = prefix
        self._timeout_seconds = timeout_seconds
        self._redis: redis.Redis | None = None
        self._count_script: AsyncScript | None = None
        self._warned_at = -WARN_EVERY_SECONDS

    async def before_serving(self) -> None:
        self._redis = redis.Redis.from_url(
            self._url,
            socket_timeout=self._timeout_seconds,
            socket_connect_timeout=self._timeout_seconds,
        )
        # Sent by its SHA1 (EVALSHA), and in full only when Redis does not have it yet.
        self._count_script = self._redis.register_script(COUNT_SCRIPT)

    async def after_serving(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = self._count_script = None

    async def count(self, limits: Sequence[Limit]) -> tuple[bool, list[float] | None]:
        if self._count_script is None:
            raise RuntimeError("The rate limiter's Redis client is used before serving")
        keys = [self._prefix + limit.key for limit in limits]
        figures = [figure for limit in limits for figure in (limit.interval, limit.burst)]
        try:
            counted, *waits = await self._count_script(keys=keys, args=figures)
        except RedisError as error:
            self._unreachable(error)
            return True, None
        return counted == 1, [float(wait) for wait in waits]

    def _unreachable(self, error: RedisError) -> None:
        """Say so in the log, at most once a minute: an outage must not flood it."""
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            logger.warning("Rate limiting is off: Redis is unreachable: %s", summary(error))
{%- endif %}


async def client_address() -> str:
    """The client's address as the server saw it (or as trusted proxies reported it).

    An IPv6 client counts as its /64: one host or subscriber is usually given a whole /64, and
    would otherwise have a fresh allowance at each of its 2**64 addresses. An IPv4 client that
    a dual-stack socket reports as ``::ffff:a.b.c.d`` counts as its IPv4 address. A port that
    a proxy writes into X-Forwarded-For (``a.b.c.d:port``, ``[v6]:port``) is left out: each
    of the client's connections would otherwise count as a new client.
    """
    address = request.remote_addr or "unknown"
    if ":" not in address:
        return address
    host = address
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))


@dataclass(frozen=True, slots=True)
class Rule:
    """One limit as one route applies it, worked out on the route's first request: the prefix of
    its store keys, its functions, and its figures in seconds (GCRA: a request every
    ``interval`` at the steady rate, and up to ``burst`` ahead of it)."""

    prefix: str
    key_function: KeyCallable
    skip_function: SkipCallable | None
    limit_header: str  # RateLimit-Limit's value
    period: float
    interval: float
    burst: float

    @classmethod
    def of(
        cls,
        limit: RateLimit,
        prefix: str,
        key_function: KeyCallable,
        skip_function: SkipCallable | None,
    ) -> Rule:
        """``limit`` on the route whose keys start with ``prefix``; the limiter's own key and
        skip functions where the limit names none."""
        period = limit.period.total_seconds()
        interval = limit.inverse
        return cls(
            prefix=f"{prefix}-{limit.key}-",
            key_function=limit.key_function or key_function,
            skip_function=limit.skip_function or skip_function,
            limit_header=str(limit.count),
            period=period,
            interval=interval,
            # The whole limit but one request.
            burst=period - interval,
        )


@dataclass(frozen=True, slots=True)
class Window:
    """Where one client stands against one rule: how far its theoretical arrival time (GCRA)
    was ahead of now, before this request."""

    rule: Rule
    wait_seconds: float

    @property
    def retry_after(self) -> float:
        """Seconds until the client is back within its burst (0 or less: it is within)."""
        return self.wait_seconds - self.rule.burst

    def headers(self, counted: bool) -> list[tuple[str, str]]:
        """The RateLimit headers, after this request when it is ``counted``."""
        wait = self.wait_seconds + self.rule.interval if counted else self.wait_seconds
        remaining = max(int((self.rule.period - wait) / self.rule.interval), 0)
        return [
            ("RateLimit-Limit", self.rule.limit_header),
            ("RateLimit-Remaining", str(remaining)),
            ("RateLimit-Reset", str(ceil(wait))),
        ]


class APIRateLimiter(RateLimiter):
    """quart-rate-limiter's limits on the API blueprint's routes only: health checks and docs
    get neither a limit nor RateLimit headers, and run none of its code. ``rate_limit``,
    ``rate_exempt`` and ``limit_blueprint`` work as the library documents them, and keys are
    the library's.

    The library's own hooks work out each route's limits and keys on every request and look
    each limit up three times (to check it, to count the request, to write the headers). These
    work a route's rules out on its first request (the routes and their limits are fixed once
    the app serves), and check and count a request in one step of a :class:`CountingStore`.
    """

    store: CountingStore

    def init_app(self, app: Quart, enabled: bool = True) -> None:
        if not isinstance(self.store, CountingStore):
            raise TypeError("APIRateLimiter counts in a CountingStore: give it store=...")
        rules: dict[str, tuple[Rule, ...]] = {}  # per endpoint, for this app
        hooks = api.blueprint.name
        app.before_request_funcs.setdefault(hooks, []).append(partial(self._count_request, rules))
        app.after_request_funcs.setdefault(hooks, []).append(self._after_request)
        app.before_serving(self._before_serving)
        app.after_serving(self._after_serving)
        app.config.setdefault(ENABLED, enabled)

    def _rules(self, endpoint: str) -> tuple[Rule, ...]:
        """The limits on ``endpoint``, shortest period first: the headers speak for that one, as
        the library's do."""
        view = current_app.view_functions[endpoint]
        blueprint = current_app.blueprints.get(request.blueprint or "")
        limits = self._get_limits_for_view_function(view, blueprint)
        prefix = f"{current_app.import_name}-{endpoint}"
        return tuple(
            Rule.of(limit, prefix, self.key_function, self.skip_function)
            for limit in sorted(limits, key=lambda limit: limit.period)
        )

    async def _count_request(self, rules: dict[str, tuple[Rule, ...]]) -> None:
        # A CORS preflight is the browser asking whether it may call, not a call: counted, it
        # would halve a browser client's allowance, and a refused one reaches the page only as
        # an opaque CORS error, without its Retry-After.
        if request.method == "OPTIONS" or not current_app.config[ENABLED]:
            return
        # A blueprint's hooks run only for its own routes: there is always an endpoint.
        endpoint = cast(str, request.endpoint)
        route = rules.get(endpoint)
        if route is None:
            route = rules[endpoint] = self._rules(endpoint)
        applied = [
            rule for rule in route if rule.skip_function is None or not await rule.skip_function()
        ]
        if not applied:
            return
        limits = [
            Limit(rule.prefix + await rule.key_function(), rule.interval, rule.burst)
            for rule in applied
        ]
        counted, waits = await self.store.count(limits)
        if waits is None:
            return
        windows = [Window(rule, wait) for rule, wait in zip(applied, waits, strict=True)]
        g.rate_limit_headers = windows[0].headers(counted)
        if not counted:
            # The store decided; the limit furthest over says when to come back, and never
            # "at once", even if the store's figures put the refusing limit exactly at its burst.
            retry_after = max(window.retry_after for window in windows)
            raise RateLimitExceeded(max(ceil(retry_after), 1))

    async def _after_request(self, response: Response) -> Response:
        headers: list[tuple[str, str]] | None = g.pop("rate_limit_headers", None)
        if headers is not None:
            response.headers.extend(headers)
        return response


def init_app(app: Quart, settings: Settings) -> None:
    """Limit every API route of ``app`` as ``settings`` say."""
    period = timedelta(seconds=settings.rate_limit_period_seconds)
    APIRateLimiter(
        app,
        key_function=client_address,
{%- if cookiecutter.rate_limit == "memory" %}
        store=MemoryStore(),
{%- else %}
        store=RedisStore(
            settings.redis_url.get_secret_value(),
            settings.redis_key_prefix,
            settings.redis_timeout_seconds,
        ),
{%- endif %}
        default_limits=[RateLimit(settings.rate_limit_requests, period)],
    )
