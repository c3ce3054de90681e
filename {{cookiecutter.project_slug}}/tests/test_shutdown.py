"""SIGTERM under load: every request already accepted is answered, then the server exits 0."""

from __future__ import annotations

import asyncio
import json
import signal

import httpx
import pytest
from sqlalchemy import func, select

from {{ cookiecutter.package_name }}.db import create_engine
from {{ cookiecutter.package_name }}.models import Item

from .conftest import LiveServer, authorization

IN_FLIGHT = 20


async def slow_create(
    server: LiveServer, number: int, sent: asyncio.Queue[int], finish: asyncio.Event
) -> str:
    """POST an item, sending part of the body now and the rest once ``finish`` is set; the status."""
    body = json.dumps({"name": f"in flight {number}"}).encode()
    headers = {
        "Host": "127.0.0.1",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Connection": "close",
        **authorization(server.settings),
    }
    head = "POST /api/v1/items HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(head.encode() + b"\r\n" + body[:5])
        await writer.drain()
        await sent.put(number)
        await finish.wait()
        writer.write(body[5:])
        await writer.drain()
        status_line = (await reader.read()).decode(errors="replace").partition("\r\n")[0]
        return status_line.split(" ")[1]
    finally:
        writer.close()


async def count_items(server: LiveServer) -> int:
    engine = create_engine(server.settings)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(Item)) or 0)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("live_server", [1, 2], indirect=True, ids=["1 worker", "2 workers"])
async def test_sigterm_finishes_in_flight_requests_then_exits_cleanly(
    live_server: LiveServer,
) -> None:
    sent: asyncio.Queue[int] = asyncio.Queue()
    finish = asyncio.Event()
    requests = [
        asyncio.create_task(slow_create(live_server, number, sent, finish))
        for number in range(IN_FLIGHT)
    ]
    for _ in range(IN_FLIGHT):
        await sent.get()
    await asyncio.sleep(0.5)  # The server has read every request's head and waits for its body.

    live_server.process.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.5)
    finish.set()
    statuses = await asyncio.gather(*requests)

    assert statuses == ["201"] * IN_FLIGHT
    exit_code = await asyncio.to_thread(live_server.process.wait, 30)
    assert exit_code == 0
    assert await count_items(live_server) == IN_FLIGHT
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"{live_server.url}/healthz", timeout=1)
