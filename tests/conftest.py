"""Shared fixtures: the real servers (started once per test run) and unique names per test."""

import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest

from auth_service.tokens import TokenIssuer, ensure_key_pair
from devstack.processes import private_rabbit, start_mongo, start_s3
from devstack.stack import S3, Keys, Names
from tests.support.stacks import configured

ISSUER = "soflite-auth"
AUDIENCE = "soflite"
S3_ACCESS_KEY = "test-access"
S3_SECRET_KEY = "test-secret-key"


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def mongo_url():
    proc, url = start_mongo("mongo")
    yield url
    proc.stop()


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    proc, endpoint = start_s3("s3", tmp_path_factory.mktemp("s3"), S3_ACCESS_KEY, S3_SECRET_KEY)
    yield S3(endpoint, S3_ACCESS_KEY, S3_SECRET_KEY)
    proc.stop()


@pytest.fixture(scope="session")
def rabbit(run_id):
    """The run's own RabbitMQ node: no collision with the shared broker or `make run`."""
    with private_rabbit(f"soltest-{run_id}") as node:
        yield node


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    keys = Keys(folder / "private.pem", folder / "public.pem")
    ensure_key_pair(keys.private, keys.public)
    return keys


@pytest.fixture(scope="session")
def issuer(keys) -> TokenIssuer:
    return TokenIssuer(keys.private.read_bytes(), ISSUER, AUDIENCE, timedelta(minutes=10))


@pytest.fixture
def names() -> Names:
    return Names(uuid.uuid4().hex[:10])


@contextmanager
def system(name, replicas, mongo_url, s3, rabbit, keys, tmp_path_factory, run_id):
    """The whole system behind its gateway, on names of its own, stopped after the block."""
    started = configured(name, mongo_url, s3, rabbit, keys, tmp_path_factory, run_id)
    try:
        yield started.start(replicas=replicas)
    finally:
        started.stop()


@pytest.fixture(scope="session")
def stack(mongo_url, s3, rabbit, keys, tmp_path_factory, run_id):
    """One of each service, shared by the end-to-end and browser tests."""
    with system("e2e", {}, mongo_url, s3, rabbit, keys, tmp_path_factory, run_id) as started:
        yield started


# Replicas of the scaled-out stack: enough that two streams can be held on different replicas
# while a third is killed, and that posts are stored by more than one process.
REPLICAS = {"notification": 3, "post": 2}


@pytest.fixture(scope="session")
def replicated_stack(mongo_url, s3, rabbit, keys, tmp_path_factory, run_id):
    """Several replicas of the post and notification services behind one gateway (as
    `REPLICAS=3 make run` runs them), for the push tests."""
    with system("scaled", REPLICAS, mongo_url, s3, rabbit, keys, tmp_path_factory, run_id) as s:
        yield s
