from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from common.admission import Admission
from common.components import running
from common.leases import Lease
from common.limits import Rate, limits_expiry, open_rate_limit
from common.messaging import Broker, EventPublisher
from common.mongo import ping, service_database
from common.relay import OutboxRelay
from common.service import create_service_app
from common.tokens import TokenVerifier
from post_service.api import router
from post_service.settings import PostSettings
from post_service.snippets import SnippetStore
from post_service.store import PostStore


def create_app(settings: PostSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier = TokenVerifier.from_settings(settings)
        async with service_database(app, settings) as db, AsyncExitStack() as parts:
            await parts.enter_async_context(running(limits_expiry(db)))
            app.state.posts = PostStore(db)
            await app.state.posts.create_indexes()
            app.state.post_limit = await open_rate_limit(
                db,
                "posts",
                Rate(settings.post_limit_burst, settings.post_limit_interval),
                "you are posting too fast",
            )
            app.state.post_admission = Admission(
                "posts", settings.post_max_at_work, settings.post_max_wait
            )
            app.state.snippets = SnippetStore(
                settings.s3_endpoint,
                settings.s3_access_key,
                settings.s3_secret_key,
                settings.s3_bucket,
                secure=settings.s3_secure,
                region=settings.s3_region,
            )
            await app.state.snippets.ensure_bucket()
            # The broker may be down: posts are still accepted and wait in the outbox.
            broker = Broker(settings.rabbitmq_url, name="post_service")
            app.state.broker = await parts.enter_async_context(running(broker))
            relay = OutboxRelay(
                app.state.posts.outbox,
                Lease(db["leases"], "outbox-sweep:posts"),
                broker,
                EventPublisher(broker, settings.events_exchange),
                poll_interval=settings.outbox_poll_interval,
                claim_timeout=settings.outbox_claim_timeout,
            )
            app.state.relay = await parts.enter_async_context(running(relay))
            yield

    app = create_service_app(
        name="post",
        title="Stack Overflow Lite: posts",
        log_level=settings.log_level,
        lifespan=lifespan,
        readiness=lambda app: {
            "mongo": lambda: ping(app.state.mongo),
            "object_store": lambda: app.state.snippets.ping(),
        },
        informational=lambda app: {"broker": lambda: app.state.broker.ping()},
    )
    app.include_router(router)
    return app
