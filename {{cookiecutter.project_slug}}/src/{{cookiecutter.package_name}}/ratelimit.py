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
import logging
{%- if cookiecutter.rate_limit == "redis" %}
import time
{%- endif %}
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from math import ceil
{%- if cookiecutter.rate_limit == "memory" %}
from operator import itemgetter
{%- endif %}
from typing import cast

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
from redis.exceptions import RedisError
{%- endif %}

from .blueprints import api
from .config import Settings

{% if cookiecutter.rate_limit == "memory" -%}
# Forget clients whose limit has fully recovered once this many are remembered, and remember
# at most MAX_CLIENTS (see MemoryStore).
PRUNE_AT = 10_000
MAX_CLIENTS = 100_000
{%- else -%}
REDIS_TIMEOUT_SECONDS = 0.5
WARN_EVERY_SECONDS = 60.0
{%- endif %}

# The library's switch (app.config), which RateLimiter(enabled=...) sets.
ENABLED = "QUART_RATE_LIMITER_ENABLED"

logger = logging.getLogger(__name__)
{%- if cookiecutter.rate_limit == "memory" %}


class MemoryStore(RateLimiterStoreABC):
    """Theoretical arrival times in a dict that forgets clients who are back to a full limit.

    Forgetting walks the whole dict, so it waits until the dict has doubled since it last did:
    a request pays for it now and then, not on every request. When more than half of
    ``max_clients`` are still within their limits (many addresses at once, as from an IPv6
    range), the half closest to a full limit is forgotten too and starts afresh: the memory
    stays bounded, whatever the number of addresses.
    """

    def __init__(self, prune_at: int = PRUNE_AT, max_clients: int = MAX_CLIENTS) -> None:
        self._tats: dict[str, datetime] = {}
        self._first_prune_at = self._prune_at = prune_at
        self._max_clients = max_clients

    def __len__(self) -> int:
        """How many clients are remembered."""
        return len(self._tats)

    async def before_serving(self) -> None:
        """Nothing to open."""

    async def after_serving(self) -> None:
        self._tats.clear()

    async def get(self, key: str, default: datetime) -> datetime:
        return self._tats.get(key, default)

    async def set(self, key: str, tat: datetime) -> None:
        if len(self._tats) >= self._prune_at:
            self._prune(datetime.now(tat.tzinfo))
        self._tats[key] = tat

    def _prune(self, now: datetime) -> None:
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


class RedisStore(RateLimiterStoreABC):
    """Theoretical arrival times in Redis, each expiring when its client is back to a full limit."""

    def __init__(self, url: str, prefix: str) -> None:
        self._url = url
        self._prefix = prefix
        self._redis: redis.Redis | None = None
        self._warned_at = -WARN_EVERY_SECONDS

    async def before_serving(self) -> None:
        self._redis = redis.Redis.from_url(
            self._url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )

    async def after_serving(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    @property
    def _client(self) -> redis.Redis:
        if self._redis is None:
            raise RuntimeError("The rate limiter's Redis client is used before serving")
        return self._redis

    async def get(self, key: str, default: datetime) -> datetime:
        try:
            value = await self._client.get(self._prefix + key)
        except RedisError:
            self._unreachable()
            return default
        return default if value is None else datetime.fromtimestamp(float(value), default.tzinfo)

    async def set(self, key: str, tat: datetime) -> None:
        try:
            await self._client.set(
                self._prefix + key, tat.timestamp(), pxat=int(tat.timestamp() * 1000) + 1
            )
        except RedisError:
            self._unreachable()

    def _unreachable(self) -> None:
        """Say so in the log, at most once a minute: an outage must not flood it."""
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            logger.warning("Rate limiting is off: Redis is unreachable", exc_info=True)
{%- endif %}


async def client_address() -> str:
    """The client's address as the server saw it (or as trusted proxies reported it)."""
    return request.remote_addr or "unknown"


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
    step: timedelta  # the interval, as what each request adds to the arrival time

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
            step=timedelta(seconds=interval),
        )


@dataclass(frozen=True, slots=True)
class Window:
    """Where one client stands against one rule: its theoretical arrival time (GCRA) and how
    far that is ahead of now."""

    rule: Rule
    key: str
    tat: datetime
    wait_seconds: float

    @property
    def refused(self) -> bool:
        """The burst is spent: one more request would exceed the limit."""
        return self.wait_seconds > self.rule.burst

    @property
    def retry_after(self) -> float:
        """Seconds until the client is back within its burst."""
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
    the app serves), and read each limit once a request.
    """

    def init_app(self, app: Quart, enabled: bool = True) -> None:
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
        if not current_app.config[ENABLED]:
            return
        # A blueprint's hooks run only for its own routes: there is always an endpoint.
        endpoint = cast(str, request.endpoint)
        route = rules.get(endpoint)
        if route is None:
            route = rules[endpoint] = self._rules(endpoint)
        now = datetime.now(UTC)
        windows = []
        for rule in route:
            if rule.skip_function is None or not await rule.skip_function():
                key = rule.prefix + await rule.key_function()
                tat = max(await self.store.get(key, now), now)
                windows.append(Window(rule, key, tat, (tat - now).total_seconds()))
        if not windows:
            return
        refused = [window for window in windows if window.refused]
        if refused:
            g.rate_limit_headers = windows[0].headers(counted=False)
            raise RateLimitExceeded(ceil(max(window.retry_after for window in refused)))
        for window in windows:
            await self.store.set(window.key, window.tat + window.rule.step)
        g.rate_limit_headers = windows[0].headers(counted=True)

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
        store=RedisStore(settings.redis_url.get_secret_value(), settings.redis_key_prefix),
{%- endif %}
        default_limits=[RateLimit(settings.rate_limit_requests, period)],
    )
