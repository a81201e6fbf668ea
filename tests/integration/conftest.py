"""Each service in-process (its real lifespan) against the real MongoDB, S3 and RabbitMQ."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from auth_service.app import create_app as auth_app
from auth_service.settings import AuthSettings
from common.messaging import Broker, EventPublisher
from common.mongo import connect_mongo
from notification_service.app import create_app as notification_app
from notification_service.settings import NotificationSettings
from post_service.app import create_app as post_app
from post_service.settings import PostSettings
from tests.conftest import AUDIENCE, ISSUER


class InProcessClient(httpx.AsyncClient):
    """A client of one in-process app, which it carries so that tests can reach the app's state."""

    def __init__(self, app: FastAPI, transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(transport=transport, base_url="http://test")
        self.app = app


@asynccontextmanager
async def serve_in_process(app: FastAPI) -> AsyncIterator[InProcessClient]:
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with InProcessClient(app, transport) as client:
            yield client


@pytest.fixture
async def db(mongo_url, names):
    """The post service's database of the test, on a client of its own; dropped afterwards."""
    client = connect_mongo(mongo_url)
    yield client[names.database("post")]
    await client.drop_database(names.database("post"))
    await client.close()


@pytest.fixture
def auth_settings(mongo_url, keys, names) -> AuthSettings:
    return AuthSettings(
        mongo_url=mongo_url,
        mongo_db=names.database("auth"),
        bcrypt_rounds=4,
        signin_failure_limit_burst=1_000_000,
        jwt_private_key_file=keys.private,
        jwt_public_key_file=keys.public,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )


@pytest.fixture
def post_settings(mongo_url, s3, rabbit, keys, names) -> PostSettings:
    return PostSettings(
        mongo_url=mongo_url,
        mongo_db=names.database("post"),
        rabbitmq_url=rabbit.url,
        events_exchange=names.exchange,
        s3_endpoint=s3.endpoint,
        s3_access_key=s3.access_key,
        s3_secret_key=s3.secret_key,
        s3_bucket=names.bucket,
        jwt_public_key_file=keys.public,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        outbox_poll_interval=timedelta(seconds=0.2),
        outbox_claim_timeout=timedelta(seconds=1),
        post_limit_burst=1_000_000,  # tests/integration/test_limits.py sets its own
    )


@pytest.fixture
def notification_settings(mongo_url, rabbit, keys, names) -> NotificationSettings:
    return NotificationSettings(
        mongo_url=mongo_url,
        mongo_db=names.database("notification"),
        rabbitmq_url=rabbit.url,
        events_exchange=names.exchange,
        notification_queue=names.queue,
        delivery_limit=3,
        notification_write_limit_burst=1_000_000,
        streams_per_user=1_000,
        jwt_public_key_file=keys.public,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )


@pytest.fixture
async def auth(auth_settings):
    async with serve_in_process(auth_app(auth_settings)) as client:
        yield client


@pytest.fixture
async def posts(post_settings):
    async with serve_in_process(post_app(post_settings)) as client:
        yield client


@pytest.fixture
async def notifications(notification_settings):
    async with serve_in_process(notification_app(notification_settings)) as client:
        yield client


@pytest.fixture
async def publish(rabbit, names):
    """Publish an event as post_service does (persistent, confirmed) to the test's exchange."""
    broker = Broker(rabbit.url, name="test-publisher")
    broker.start()
    await broker.connection()
    publisher = EventPublisher(broker, names.exchange)
    yield publisher.publish
    await broker.stop()


@pytest.fixture
def bearer(issuer):
    """Authorization headers for a user id (tokens minted with the test key pair)."""

    def headers(user_id: str, email: str | None = None) -> dict[str, str]:
        token = issuer.mint(user_id, email or f"{user_id}@example.com")
        return {"Authorization": f"Bearer {token}"}

    return headers
