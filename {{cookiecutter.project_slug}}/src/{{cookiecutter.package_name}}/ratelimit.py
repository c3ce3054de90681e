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

import logging
{%- if cookiecutter.rate_limit == "redis" %}
import time
{%- endif %}
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import ceil
from typing import cast

from quart import Quart, Response, current_app, g, request
from quart_rate_limiter import RateLimit, RateLimiter, RateLimitExceeded
from quart_rate_limiter.store import RateLimiterStoreABC
{%- if cookiecutter.rate_limit == "redis" %}
from redis import asyncio as redis
from redis.exceptions import RedisError
{%- endif %}

from .blueprints import api
from .config import Settings

{% if cookiecutter.rate_limit == "memory" -%}
# Forget clients whose limit has fully recovered once this many are remembered.
PRUNE_AT = 10_000
{%- else -%}
REDIS_TIMEOUT_SECONDS = 0.5
WARN_EVERY_SECONDS = 60.0
{%- endif %}

# The library's switch (app.config), which RateLimiter(enabled=...) sets.
ENABLED = "QUART_RATE_LIMITER_ENABLED"

logger = logging.getLogger(__name__)
{%- if cookiecutter.rate_limit == "memory" %}


class MemoryStore(RateLimiterStoreABC):
    """Theoretical arrival times in a dict that forgets clients who are back to a full limit."""

    def __init__(self) -> None:
        self._tats: dict[str, datetime] = {}

    async def before_serving(self) -> None:
        """Nothing to open."""

    async def after_serving(self) -> None:
        self._tats.clear()

    async def get(self, key: str, default: datetime) -> datetime:
        return self._tats.get(key, default)

    async def set(self, key: str, tat: datetime) -> None:
        if len(self._tats) >= PRUNE_AT:
            self._prune(datetime.now(tat.tzinfo))
        self._tats[key] = tat

    def _prune(self, now: datetime) -> None:
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
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
class Window:
    """Where a client stands against one limit: its theoretical arrival time (GCRA) at ``now``."""

    limit: RateLimit
    tat: datetime
    now: datetime

    @property
    def wait_seconds(self) -> float:
        """How far the client is ahead of the limit's steady rate."""
        return (self.tat - self.now).total_seconds()

    @property
    def burst_seconds(self) -> float:
        """How far ahead of the steady rate a client may get: the whole limit but one request."""
        return self.limit.period.total_seconds() - self.limit.inverse

    @property
    def refused(self) -> bool:
        """The burst is spent: one more request would exceed the limit."""
        return self.wait_seconds > self.burst_seconds

    def after_one_more(self) -> Window:
        return Window(self.limit, self.tat + timedelta(seconds=self.limit.inverse), self.now)

    def headers(self) -> list[tuple[str, str]]:
        period = self.limit.period.total_seconds()
        remaining = max(int((period - self.wait_seconds) / self.limit.inverse), 0)
        return [
            ("RateLimit-Limit", str(self.limit.count)),
            ("RateLimit-Remaining", str(remaining)),
            ("RateLimit-Reset", str(ceil(self.wait_seconds))),
        ]


class APIRateLimiter(RateLimiter):
    """quart-rate-limiter's limits on the API blueprint's routes only: health checks and docs
    get neither a limit nor RateLimit headers, and run none of its code. ``rate_limit``,
    ``rate_exempt`` and ``limit_blueprint`` work as the library documents them.

    The library's own hooks look each limit up three times a request (to check it, to count the
    request, to write the headers); these look it up once and keep the result for the headers.
    """

    def init_app(self, app: Quart, enabled: bool = True) -> None:
        app.before_request_funcs.setdefault(api.blueprint.name, []).append(self._before_request)
        app.after_request_funcs.setdefault(api.blueprint.name, []).append(self._after_request)
        app.before_serving(self._before_serving)
        app.after_serving(self._after_serving)
        app.config.setdefault(ENABLED, enabled)

    async def _before_request(self) -> None:
        if not current_app.config[ENABLED]:
            return
        # A blueprint's hooks run only for its own routes: there is always an endpoint.
        endpoint = cast(str, request.endpoint)
        view = current_app.view_functions[endpoint]
        blueprint = current_app.blueprints.get(request.blueprint or "")
        now = datetime.now(UTC)
        windows = []
        for limit in self._get_limits_for_view_function(view, blueprint):
            if not await self._should_skip(limit):
                key = await self._create_key(endpoint, limit)
                windows.append((key, Window(limit, max(await self.store.get(key, now), now), now)))
        if not windows:
            return
        # The headers speak for the shortest period, as the library's do.
        shown = min(windows, key=lambda keyed: keyed[1].limit.period)[1]
        refused = [window for _key, window in windows if window.refused]
        if refused:
            g.rate_limit_window = shown
            retry_after = max(window.wait_seconds - window.burst_seconds for window in refused)
            raise RateLimitExceeded(ceil(retry_after))
        for key, window in windows:
            await self.store.set(key, window.after_one_more().tat)
        g.rate_limit_window = shown.after_one_more()

    async def _after_request(self, response: Response) -> Response:
        window: Window | None = g.pop("rate_limit_window", None)
        if window is not None:
            response.headers.extend(window.headers())
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
