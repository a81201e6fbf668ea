"""A stream whose client stops reading, against the real broker and store, in process.

A client that never reads leaves the server's ``send`` waiting: that is what uvicorn does once
the socket's buffers are full (on loopback they hold megabytes, thousands of notifications, too
many to fill in a test). Here the ASGI ``send`` of one stream simply never returns, which is
that moment, reached at once.
"""

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from common.events import PostCreated
from notification_service.app import create_app
from tests.integration.conftest import serve_in_process
from tests.integration.test_notification_service import consuming, post_created
from tests.support.polling import eventually

Message = dict[str, Any]


def stream_request(token_headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/notification/stream",
        "raw_path": b"/api/notification/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"accept", b"text/event-stream")]
        + [(k.lower().encode(), v.encode()) for k, v in token_headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }


class Client:
    """One stream's far end: ``reads`` False is a client that has stopped reading."""

    def __init__(self, reads: bool) -> None:
        self.reads = reads
        self.status: int | None = None
        self.body = b""

    async def receive(self) -> Message:
        if not hasattr(self, "_requested"):
            self._requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never hangs up (the test cancels instead)
        raise AssertionError("unreachable")

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message.get("body"):
            if not self.reads and self.body:
                await asyncio.Event().wait()  # the socket is full: this write never completes
            self.body += message["body"]

    def posts(self) -> list[str]:
        return [
            line.split('"post_id":"')[1].split('"')[0]
            for line in self.body.decode().splitlines()
            if line.startswith("data: ")
        ]


async def test_a_client_that_stops_reading_delays_no_one(
    notification_settings, rabbit, names, publish, bearer
):
    settings = notification_settings.model_copy(
        update={"push_buffer": 64, "stream_send_timeout": timedelta(seconds=60)}
    )
    async with serve_in_process(create_app(settings)) as service:
        app: Callable[..., Coroutine[Any, Any, None]] = service.app
        await consuming(service, rabbit, names)
        hub = service.app.state.push
        fast, slow = Client(reads=True), Client(reads=False)
        streams = [
            asyncio.create_task(app(stream_request(bearer("bob")), c.receive, c.send))
            for c in (fast, slow)
        ]
        await eventually(lambda: _async(hub.open_streams == 2))

        events: list[PostCreated] = [post_created(text=f"post {i}") for i in range(150)]
        for event in events:
            await publish(event)

        async def fast_has_all() -> bool:
            return len(fast.posts()) == len(events)

        await eventually(fast_has_all, timeout=30)
        assert fast.posts() == [event.post.id for event in events]  # each once, in order
        assert fast.status == slow.status == 200
        assert len(slow.posts()) == 1  # its first write went out, then it stopped reading
        # The slow stream fell a buffer behind and was dropped, while its write still hangs:
        # the fast one never waited for it to end.
        assert hub.open_streams == 1
        assert not streams[1].done()

        for stream in streams:
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        assert hub.open_streams == 0


async def _async(value: bool) -> bool:
    return value
