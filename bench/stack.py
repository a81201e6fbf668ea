"""The system under test: a private stack started as the tests start theirs, or a running one.

The private stack has its own MongoDB stand-in (on disk), object store, RabbitMQ node, services
and gateway, on free ports and unique names, so it never meets `make run` or a test run. Unlike
the tests it keeps the services' own defaults for bcrypt cost and the outbox poll.
"""

import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
from pydantic_settings import BaseSettings

from auth_service.tokens import ensure_key_pair
from devstack.processes import (
    Process,
    RabbitNode,
    free_port,
    port_open,
    start_mongo,
    start_s3,
    wait_until,
)
from devstack.stack import S3, Keys, Names, Stack
from notification_service.settings import NotificationSettings
from post_service.settings import PostSettings
from services import HTTP_SERVICES

# Test settings the bench drops so that each service runs on its own default (the load shedding
# among them: the capacity scenario measures it).
TEST_ONLY_SETTINGS = (
    "BCRYPT_ROUNDS",
    "OUTBOX_POLL_INTERVAL",
    "OUTBOX_CLAIM_TIMEOUT",
    "POST_MAX_AT_WORK",
    "POST_MAX_WAIT",
)


def _default(settings: type[BaseSettings], name: str) -> str:
    """The default of one of ``settings``' text fields (a URL, a database or queue name)."""
    default = settings.model_fields[name].default
    assert isinstance(default, str), f"{settings.__name__}.{name} has no text default"
    return default


@dataclass
class Target:
    gateway: str
    services: dict[str, str]  # auth / post / notification: base URLs (for /healthz, /metrics)
    mongo_url: str
    databases: dict[str, str]  # the same keys: database names
    rabbit_url: str
    queue: str  # notification_service's queue
    rabbit: RabbitNode | None = None  # a private node only: the outage scenario stops it
    stack: Stack | None = None  # a private stack only: the push scenario adds replicas to it
    stores: dict[str, Process] = field(default_factory=dict)  # a private stack's MongoDB and S3

    def s3(self) -> S3:
        """The object store of a private stack, with its keys."""
        assert self.stack is not None, "a private stack's only"
        env = self.stack.env
        return S3(env["S3_ENDPOINT"], env["S3_ACCESS_KEY"], env["S3_SECRET_KEY"])

    def processes(self) -> dict[str, int]:
        """Each process of a private stack by name, as the pid of the root of its tree (none for
        a running stack): the stores, the broker, every service replica and the gateway."""
        named = {**self.stores, **(self.stack.processes if self.stack else {})}
        if self.rabbit is not None and self.rabbit.process is not None:
            named["rabbitmq"] = self.rabbit.process
        return {name: p.popen.pid for name, p in named.items() if p.running and p.popen}

    async def queue_ready(self) -> int:
        """Messages waiting in the notification queue, as its leader counts them now.

        A passive declare, not ``rabbitmqctl list_queues``: for the quorum queue, the counters
        that lists were seen to lag by anything up to about 5 s (one or two messages still
        "unacknowledged" after every notification was stored and seen), as a periodic refresh
        would. Messages delivered but not yet acknowledged are not in this count: the caller
        checks the consumer's own count of what it stored.
        """
        connection = await aio_pika.connect(self.rabbit_url)
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.queue, passive=True)
            return queue.declaration_result.message_count or 0
        finally:
            await connection.close()


@contextmanager
def private_stack(rate_limit: str = "10000r/s", traces: bool = False) -> Iterator[Target]:
    """Everything started here, stopped (and its data removed) when the block ends. With
    ``traces``, every service exports its spans (common/tracing.py, the SDK's default batching)
    to an OTLP receiver process of the stack's own, which counts them (devstack/otlp.py)."""
    run = f"bench{uuid.uuid4().hex[:6]}"
    work = Path(tempfile.mkdtemp(prefix=f"soflite-{run}-"))
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        mongo, mongo_url = start_mongo(f"{run}-mongo", str(work / "mongo"))
        cleanup.callback(mongo.stop)
        s3_keys = ("bench-access", "bench-secret-key")
        s3, endpoint = start_s3(f"{run}-s3", work / "s3", *s3_keys)
        cleanup.callback(s3.stop)
        rabbit = RabbitNode(run)
        cleanup.callback(rabbit.remove_data)
        cleanup.callback(rabbit.stop)
        rabbit.start()
        keys = Keys(private=work / "keys" / "jwt.pem", public=work / "keys" / "jwt.pub")
        ensure_key_pair(keys.private, keys.public)
        names = Names(run)
        stack = Stack.configure(
            run,
            mongo_url=mongo_url,
            s3=S3(endpoint, *s3_keys),
            rabbit_url=rabbit.url,
            keys=keys,
            names=names,
            workdir=work / "stack",
        )
        for name in TEST_ONLY_SETTINGS:
            stack.env.pop(name)
        stores = {"mongodb": mongo, "s3": s3}
        if traces:
            port = free_port()
            otlp = Process(f"{run}-otlp", [sys.executable, "-m", "devstack.otlp", str(port)])
            cleanup.callback(otlp.stop)
            otlp.start()
            wait_until(lambda: port_open("127.0.0.1", port), 30, "OTLP receiver listening")
            stack.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
            stores["otlp-receiver"] = otlp
        cleanup.callback(stack.stop)
        stack.start(with_gateway=False)
        stack.start_gateway("gateway", rate_limit=rate_limit)  # 50 sign-ins at once must pass
        yield Target(
            gateway=stack.gateway,
            services={s.name: stack.urls[s.name] for s in HTTP_SERVICES},
            mongo_url=mongo_url,
            databases=stack.databases,
            rabbit_url=rabbit.url,
            queue=names.queue,
            rabbit=rabbit,
            stack=stack,
            stores=stores,
        )


def running_stack(gateway: str) -> Target:
    """`make run` on this machine (the declared ports and databases, services.py)."""
    return Target(
        gateway=gateway.rstrip("/"),
        services={s.name: f"http://127.0.0.1:{s.port}" for s in HTTP_SERVICES},
        mongo_url=_default(PostSettings, "mongo_url"),
        databases={s.name: s.database for s in HTTP_SERVICES},
        rabbit_url=_default(PostSettings, "rabbitmq_url"),
        queue=_default(NotificationSettings, "notification_queue"),
    )
