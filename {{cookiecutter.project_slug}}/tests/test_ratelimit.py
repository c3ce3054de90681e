"""Rate limits: per client and route, 429 as problem+json with Retry-After, health exempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any
{%- if cookiecutter.rate_limit == "memory" %}
from unittest.mock import patch
{%- endif %}

import pytest
from pydantic import ValidationError
from quart import Blueprint, Quart, request
from quart_rate_limiter import RateLimit, rate_limit
from quart_rate_limiter.store import MemoryStore as LibraryStore
{%- if cookiecutter.rate_limit == "redis" %}
from redis import asyncio as redis
{%- endif %}

from {{ cookiecutter.package_name }}.blueprints import api
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.ratelimit import (
    APIRateLimiter,
    CountingStore,
    Limit,
{%- if cookiecutter.rate_limit == "memory" %}
    MemoryStore,
{%- else %}
    RedisStore,
{%- endif %}
    client_address,
)

from .conftest import authorization, make_settings, started_app

ITEMS = "/api/v1/items"
LIMIT = 3


Get = Callable[..., Awaitable[Any]]


def getter(app: Quart, settings: Settings) -> Get:
    """GET requests from a given client address, with whatever auth the API needs."""

    async def get(path: str, client: str = "192.0.2.1", **headers: str) -> Any:
        return await app.test_client().get(
            path,
            headers={**authorization(settings), **headers},
            scope_base={"client": (client, 40000)},
        )

    return get
{%- if cookiecutter.rate_limit == "redis" %}


@pytest.fixture(autouse=True)
async def clean_redis(settings: Settings) -> AsyncIterator[None]:
    """Each test's keys live under its own prefix, deleted afterwards."""
    yield
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    try:
        async for key in client.scan_iter(f"{settings.redis_key_prefix}*"):
            await client.delete(key)
    finally:
        await client.aclose()
{%- endif %}


@pytest.fixture
def store(settings: Settings) -> CountingStore:
    """The project's store, for apps made by hand."""
{%- if cookiecutter.rate_limit == "memory" %}
    return MemoryStore()
{%- else %}
    return RedisStore(
        settings.redis_url.get_secret_value(),
        settings.redis_key_prefix,
        settings.redis_timeout_seconds,
    )
{%- endif %}


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator[Get]:
    """GETs to an app that allows LIMIT requests a minute per client and route."""
    limited = make_settings(
        settings.database_url,
        rate_limit_requests=LIMIT,
        rate_limit_period_seconds=60,
{%- if cookiecutter.rate_limit == "redis" %}
        redis_key_prefix=settings.redis_key_prefix,
{%- endif %}
    )
    async with started_app(limited) as app:
        yield getter(app, limited)


async def test_over_the_limit_is_a_429_problem_with_retry_after(limited: Get) -> None:
    for remaining in reversed(range(LIMIT)):
        response = await limited(ITEMS)
        assert response.status_code == 200
        assert response.headers["RateLimit-Limit"] == str(LIMIT)
        assert response.headers["RateLimit-Remaining"] == str(remaining)

    response = await limited(ITEMS)

    assert response.status_code == 429
    assert response.content_type == "application/problem+json"
    body = await response.get_json()
    assert body["status"] == 429
    # Counted per client address: werkzeug's "This user has exceeded ..." would say otherwise.
    assert body["detail"] == "Too many requests from this client; retry after Retry-After seconds."
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert response.headers["RateLimit-Remaining"] == "0"


async def test_each_client_has_its_own_limit(limited: Get) -> None:
    for _ in range(LIMIT):
        await limited(ITEMS, client="192.0.2.1")
    assert (await limited(ITEMS, client="192.0.2.1")).status_code == 429
    assert (await limited(ITEMS, client="192.0.2.2")).status_code == 200


async def test_an_ipv6_client_has_one_limit_for_its_slash_64(limited: Get) -> None:
    for host in range(1, LIMIT + 1):
        assert (await limited(ITEMS, client=f"2001:db8:1:2::{host:x}")).status_code == 200
    assert (await limited(ITEMS, client="2001:db8:1:2:ffff::9")).status_code == 429
    assert (await limited(ITEMS, client="2001:db8:1:3::1")).status_code == 200


async def test_an_ipv4_client_on_a_dual_stack_socket_keeps_its_own_limit(limited: Get) -> None:
    for _ in range(LIMIT):
        assert (await limited(ITEMS, client="::ffff:192.0.2.1")).status_code == 200
    assert (await limited(ITEMS, client="192.0.2.1")).status_code == 429
    assert (await limited(ITEMS, client="::ffff:192.0.2.2")).status_code == 200


@pytest.mark.parametrize(
    ("first", "same_client", "other_client"),
    [
        ("203.0.113.9:1001", "203.0.113.9:1002", "203.0.113.10:1001"),
        ("[2001:db8::1]:443", "[2001:db8::2]:444", "[2001:db8:0:1::1]:443"),
    ],
)
async def test_a_port_a_proxy_forwards_is_not_a_new_client(
    limited: Get, first: str, same_client: str, other_client: str
) -> None:
    # As some proxies write X-Forwarded-For: a new port for each of the client's connections.
    for _ in range(LIMIT):
        assert (await limited(ITEMS, client=first)).status_code == 200
    assert (await limited(ITEMS, client=same_client)).status_code == 429
    assert (await limited(ITEMS, client=other_client)).status_code == 200


async def test_an_address_that_does_not_parse_is_counted_as_it_reads(limited: Get) -> None:
    # As a trusted proxy might forward it.
    for _ in range(LIMIT):
        assert (await limited(ITEMS, client="gateway:unknown")).status_code == 200
    assert (await limited(ITEMS, client="gateway:unknown")).status_code == 429
    assert (await limited(ITEMS, client="gateway:other")).status_code == 200


@pytest.mark.parametrize("period", ["inf", "nan", "0", "86401"])
def test_the_period_is_positive_and_at_most_a_day(settings: Settings, period: str) -> None:
    # Infinity once got through, to fail in the limiter as an OverflowError (a traceback).
    with pytest.raises(ValidationError, match="rate_limit_period_seconds"):
        make_settings(settings.database_url, rate_limit_period_seconds=period)


async def test_a_forged_forwarded_for_does_not_reset_the_limit(limited: Get) -> None:
    for number in range(LIMIT):
        await limited(ITEMS, **{"X-Forwarded-For": f"198.51.100.{number}"})
    response = await limited(ITEMS, **{"X-Forwarded-For": "198.51.100.99"})
    assert response.status_code == 429


async def test_a_route_may_add_a_tighter_limit_of_its_own(store: CountingStore) -> None:
    app = Quart(__name__)
    # The limiter hangs off the API blueprint's name: this one stands in for it.
    resources = Blueprint(api.blueprint.name, __name__, url_prefix="/api/v1")

    @resources.get("/tight")
    @rate_limit(1, timedelta(seconds=10))
    async def tight() -> str:
        return "tight"

    @resources.get("/loose")
    async def loose() -> str:
        return "loose"

    app.register_blueprint(resources)
    default = RateLimit(LIMIT, timedelta(minutes=1))
    APIRateLimiter(app, key_function=client_address, store=store, default_limits=[default])

    async with app.test_app():
        client = app.test_client()
        first = await client.get("/api/v1/tight")
        second = await client.get("/api/v1/tight")
        other = await client.get("/api/v1/loose")

    assert first.status_code == 200
    # The headers speak for the limit with the shortest period.
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("1", "0")
    assert second.status_code == 429
    assert 0 < int(second.headers["Retry-After"]) <= 10
    assert other.status_code == 200
    assert other.headers["RateLimit-Limit"] == str(LIMIT)
    assert other.headers["RateLimit-Remaining"] == str(LIMIT - 1)


async def test_a_limit_may_key_and_skip_requests_its_own_way(store: CountingStore) -> None:
    app = Quart(__name__)
    resources = Blueprint(api.blueprint.name, __name__, url_prefix="/api/v1")

    async def tenant() -> str:
        return request.headers.get("X-Tenant", "")

    async def internal() -> bool:
        return request.headers.get("X-Internal") == "yes"

    @resources.get("/reports")
    @rate_limit(1, timedelta(seconds=10), key_function=tenant, skip_function=internal)
    async def reports() -> str:
        return "reports"

    app.register_blueprint(resources)
    APIRateLimiter(app, key_function=client_address, store=store)

    async with app.test_app():
        client = app.test_client()

        async def status(**headers: str) -> int:
            response = await client.get("/api/v1/reports", headers=headers)
            return response.status_code

        tenants = [await status(**{"X-Tenant": name}) for name in ("a", "a", "b")]
        internal_calls = [await status(**{"X-Tenant": "a", "X-Internal": "yes"}) for _ in range(2)]

    # One request per tenant (not per client address), and internal calls are never counted.
    assert tenants == [200, 429, 200]
    assert internal_calls == [200, 200]


def test_the_limiter_refuses_a_store_that_cannot_count_in_one_step() -> None:
    with pytest.raises(TypeError, match="CountingStore"):
        APIRateLimiter(Quart(__name__), key_function=client_address, store=LibraryStore())


class AtTheBurst(CountingStore):
    """Refuses every request, reporting each wait exactly at its limit's burst: the figures a
    store that rounds them could give back."""

    async def before_serving(self) -> None:
        """Nothing to open."""

    async def after_serving(self) -> None:
        """Nothing to close."""

    async def count(self, limits: Sequence[Limit]) -> tuple[bool, list[float]]:
        return False, [limit.burst for limit in limits]


async def test_a_refusal_at_the_edge_of_the_burst_is_a_429_with_retry_after() -> None:
    app = Quart(__name__)
    resources = Blueprint(api.blueprint.name, __name__, url_prefix="/api/v1")

    @resources.get("/edge")
    @rate_limit(1, timedelta(seconds=10))
    async def edge() -> str:
        return "edge"

    app.register_blueprint(resources)
    APIRateLimiter(app, key_function=client_address, store=AtTheBurst())
    async with app.test_app():
        response = await app.test_client().get("/api/v1/edge")
    # The store's word stands: refused, and told to wait a second rather than retry at once.
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"


async def test_requests_at_once_take_no_more_than_the_limit(limited: Get) -> None:
    responses = await asyncio.gather(*(limited(ITEMS) for _ in range(LIMIT * 4)))
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == LIMIT * 3


async def test_cors_preflights_are_not_counted(settings: Settings) -> None:
    browser = make_settings(
        settings.database_url,
        rate_limit_requests=LIMIT,
        rate_limit_period_seconds=60,
        cors_origins="https://app.example",
{%- if cookiecutter.rate_limit == "redis" %}
        redis_key_prefix=settings.redis_key_prefix,
{%- endif %}
    )
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    async with started_app(browser) as app:
        get = getter(app, browser)
        for _ in range(LIMIT * 2):
            asked = await app.test_client().options(ITEMS, headers=preflight)
            assert asked.status_code == 200
            assert "RateLimit-Remaining" not in asked.headers
        remaining = [(await get(ITEMS)).headers["RateLimit-Remaining"] for _ in range(LIMIT)]
    assert remaining == [str(left) for left in reversed(range(LIMIT))]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json"])
async def test_health_checks_and_docs_are_never_limited(limited: Get, path: str) -> None:
    for _ in range(LIMIT * 3):
        response = await limited(path)
        assert response.status_code == 200
        assert "RateLimit-Limit" not in response.headers
{%- if cookiecutter.rate_limit == "memory" %}


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_memory_store_forgets_clients_back_to_a_full_limit() -> None:
    clock = Clock()
    store = MemoryStore(prune_at=100, clock=clock)
    for number in range(100):
        await store.count([Limit(f"client-{number}", interval=1.0, burst=59.0)])
    # At 100 s every one of them is back to a full limit; "active" is the 101st client.
    clock.now = 100.0
    await store.count([Limit("active", interval=1.0, burst=59.0)])
    assert len(store) == 1
    assert await store.count([Limit("active", 1.0, 59.0)]) == (True, [1.0])
    assert await store.count([Limit("client-1", 1.0, 59.0)]) == (True, [0.0])


async def test_the_memory_store_counts_nothing_when_one_limit_refuses() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    tight, loose = Limit("tight", interval=10.0, burst=0.0), Limit("loose", 1.0, 59.0)
    assert await store.count([tight, loose]) == (True, [0.0, 0.0])
    clock.now = 1.0
    assert await store.count([tight, loose]) == (False, [9.0, 0.0])
    # The refused request left "loose" as it was: 1 s of it spent, and gone by now.
    assert await store.count([loose]) == (True, [0.0])


async def test_the_memory_store_stays_bounded_when_every_client_is_within_its_limit() -> None:
    clock = Clock()
    store = MemoryStore(prune_at=8, max_clients=64, clock=clock)

    def limit(number: int) -> Limit:
        """An hour between requests: no client gets back to a full limit during the test."""
        return Limit(f"client-{number}", interval=3600.0, burst=3600.0)

    with patch.object(store, "_prune", wraps=store._prune) as prune:
        for number in range(10_000):
            clock.now = float(number)
            await store.count([limit(number)])
            assert len(store) <= 64
    # The newest clients, furthest from a full limit, are the ones remembered.
    assert await store.count([limit(9_999)]) == (True, [3600.0])
    assert await store.count([limit(0)]) == (True, [0.0])
    # A prune once the dict doubles or reaches the cap: about one per 32 requests here, where
    # pruning on every request past prune_at would make nearly 10,000.
    assert prune.call_count <= 10_000 // 32 + 8
{%- else %}


@pytest.fixture
async def workers(settings: Settings) -> AsyncIterator[list[Get]]:
    """Two apps on one Redis, standing for two worker processes, with LIMIT requests a minute."""
    shared = make_settings(
        settings.database_url,
        rate_limit_requests=LIMIT,
        redis_key_prefix=settings.redis_key_prefix,
    )
    async with started_app(shared) as first, started_app(shared) as second:
        yield [getter(first, shared), getter(second, shared)]


async def test_the_limit_is_shared_by_every_worker(workers: list[Get]) -> None:
    statuses = [(await get(ITEMS)).status_code for get in workers * LIMIT]
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == LIMIT


async def test_requests_at_once_on_every_worker_take_no_more_than_the_limit(
    workers: list[Get],
) -> None:
    """Each request reads and counts in one step on the Redis server, by its clock: no two
    take the last, and none is refused for a clock that ran behind another worker's."""
    responses = await asyncio.gather(*(get(ITEMS) for get in workers * LIMIT * 4))
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == LIMIT * 7


async def test_keys_carry_the_prefix_and_expire(limited: Get, settings: Settings) -> None:
    await limited(ITEMS)
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    try:
        keys = [key async for key in client.scan_iter(f"{settings.redis_key_prefix}*")]
        assert len(keys) == 1
        assert 0 < await client.pttl(keys[0]) <= 60_000
    finally:
        await client.aclose()


async def three_requests_at_once(settings: Settings, redis_url: str, **overrides: Any) -> list[int]:
    """The statuses of three requests at once, with a limit of one, to an app on ``redis_url``;
    none may claim a limit that was not counted."""
    down = make_settings(
        settings.database_url, rate_limit_requests=1, redis_url=redis_url, **overrides
    )
    async with started_app(down) as app:
        get = getter(app, down)
        responses = await asyncio.gather(*(get(ITEMS) for _ in range(3)))
    for response in responses:
        assert "RateLimit-Limit" not in response.headers
        assert "RateLimit-Remaining" not in response.headers
    return [response.status_code for response in responses]


def unreachable_warnings(caplog: pytest.LogCaptureFixture) -> int:
    """How many times the log said Redis was unreachable, each in one line with the cause."""
    warnings = [record for record in caplog.records if "Redis is unreachable: " in record.message]
    assert all(record.exc_info is None for record in warnings)
    return len(warnings)


async def test_an_unreachable_redis_lets_requests_through_and_says_so_once(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert await three_requests_at_once(settings, "redis://127.0.0.1:1/0") == [200, 200, 200]
    assert unreachable_warnings(caplog) == 1


async def test_a_redis_that_never_answers_lets_requests_through_after_the_timeout(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that accepts connections and then says nothing, as a hung Redis does."""
    connections: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    url = f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0"
    try:
        statuses = await three_requests_at_once(settings, url, redis_timeout_seconds=0.2)
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()
    assert connections, "the limiter never reached the silent server"
    assert statuses == [200, 200, 200]
    assert unreachable_warnings(caplog) == 1
{%- endif %}
