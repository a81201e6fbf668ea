"""What common/service.py gives every service when a request goes wrong."""

import asyncio
import socket
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from pydantic import BaseModel

from common import server
from common.service import create_service_app

PASSWORD = "s3cret-horse-battery"


class Body(BaseModel):
    password: str


def probe_app():
    """A service whose one route fails with an error that nothing handles."""

    @asynccontextmanager
    async def lifespan(_app):
        yield

    app = create_service_app(
        name="probe", title="probe", log_level="INFO", lifespan=lifespan, readiness=lambda _: {}
    )

    @app.post("/api/boom")
    async def boom(body: Body) -> None:
        raise RuntimeError("a bug")

    return app


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=probe_app())  # raises what the app lets out
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_an_unhandled_error_is_a_json_500_with_the_request_id(client, caplog):
    answer = await client.post(
        "/api/boom", json={"password": PASSWORD}, headers={"X-Request-ID": "abcdef123456"}
    )
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error", "request_id": "abcdef123456"}
    assert answer.headers["X-Request-ID"] == "abcdef123456"
    events = [record.msg for record in caplog.records if isinstance(record.msg, dict)]
    assert {"event": "unhandled error", "method": "POST", "path": "/api/boom"}.items() <= (
        events[0].items()
    )
    assert "RuntimeError: a bug" in caplog.text  # the traceback is logged
    assert any(e["event"] == "request" and e["status"] == 500 for e in events)
    assert PASSWORD not in caplog.text


async def http_exchange(reader, writer, path):
    """One request on an open connection; the answer's status, or None if the server hung up."""
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n".encode()
    )
    writer.write(b'Content-Length: 16\r\n\r\n{"password": ""}')
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode().split("\r\n")
    length = next(
        int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length")
    )
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def test_the_connection_stays_open_after_a_500():
    """uvicorn closes a connection on which the app raised; the gateway's next request on it
    (a kept-alive upstream connection) would then fail with 502."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        server = uvicorn.Server(uvicorn.Config(probe_app(), log_config=None, lifespan="off"))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:  # the socket listens already: the connection waits for uvicorn to accept it
            reader, writer = await asyncio.open_connection(*sock.getsockname())
            statuses = [await http_exchange(reader, writer, "/api/boom") for _ in range(2)]
            writer.close()
        finally:
            server.should_exit = True
            await serving
    assert statuses == [500, 500]


def test_uvicorn_outlives_the_gateways_idle_upstream_connections(monkeypatch):
    """nginx keeps idle upstream connections 60 s (keepalive_timeout): uvicorn must keep them
    longer, or it closes one just as nginx sends a request on it."""
    options = {}
    monkeypatch.setattr(uvicorn, "run", lambda _app, **kwargs: options.update(kwargs))
    server.serve(probe_app(), "127.0.0.1", 8000)
    assert options["timeout_keep_alive"] > 60
