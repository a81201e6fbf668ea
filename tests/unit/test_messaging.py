"""common/messaging.py's Broker stopped while it is still connecting: it must stop, not leave
aio-pika reconnecting for ever in a task of its own (a test's event loop then never closes)."""

import asyncio

from common.messaging import Broker
from tests.support.polling import eventually


async def test_a_broker_stopped_mid_connect_leaves_nothing_running():
    accepted = asyncio.Event()

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()  # a peer that takes the connection and never answers the handshake
        await asyncio.sleep(3600)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    before = asyncio.all_tasks()
    broker = Broker(f"amqp://guest:guest@127.0.0.1:{port}/", name="stopped-mid-connect")
    broker.start()
    await asyncio.wait_for(accepted.wait(), 10)

    await asyncio.wait_for(broker.stop(), 10)

    async def only_the_servers_left() -> bool:
        left = asyncio.all_tasks() - before - {asyncio.current_task()}
        return all("silent" in repr(task) for task in left)

    await eventually(only_the_servers_left, timeout=5)
    assert not broker.is_connected
    server.close()
