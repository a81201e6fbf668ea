"""Each fault module gets a RabbitMQ node and services of its own, to stop and kill at will."""

import uuid

import pytest

from devstack.processes import private_rabbit
from devstack.stack import Stack
from tests.support.stacks import configured


@pytest.fixture(scope="module")
def broker(run_id):
    with private_rabbit(f"solfault-{uuid.uuid4().hex[:6]}-{run_id}") as node:
        yield node


def fault_stack(name, mongo_url, s3, broker, keys, tmp_path_factory) -> Stack:
    """A stack on the module's broker, with names of its own; nothing started yet."""
    return configured(name, mongo_url, s3, broker, keys, tmp_path_factory, uuid.uuid4().hex[:8])


@pytest.fixture(scope="module")
def system(mongo_url, s3, broker, keys, tmp_path_factory):
    stack = fault_stack("faults", mongo_url, s3, broker, keys, tmp_path_factory)
    stack.start_service("notification")  # declares the queue, so events have somewhere to go
    stack.start_service("post")
    yield stack
    stack.stop()
