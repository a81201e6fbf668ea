"""Each fault module gets a RabbitMQ node and services of its own, to stop and kill at will."""

import uuid

import pytest

from devstack.processes import private_rabbit
from devstack.stack import Names, Stack


@pytest.fixture(scope="module")
def broker(run_id):
    with private_rabbit(f"solfault-{uuid.uuid4().hex[:6]}-{run_id}") as node:
        yield node


@pytest.fixture(scope="module")
def system(mongo_url, s3, broker, keys, tmp_path_factory):
    names = Names(f"fault{uuid.uuid4().hex[:8]}")
    stack = Stack.configure(
        "faults",
        mongo_url=mongo_url,
        s3=s3,
        rabbit_url=broker.url,
        keys=keys,
        names=names,
        workdir=tmp_path_factory.mktemp("faults"),
    )
    stack.start_service("notification")  # declares the queue, so events have somewhere to go
    stack.start_service("post")
    yield stack
    stack.stop()
