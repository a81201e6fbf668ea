from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from auth_service.api import router
from auth_service.passwords import PasswordHasher
from auth_service.settings import AuthSettings
from auth_service.store import UserStore
from auth_service.tokens import TokenIssuer
from common.components import running
from common.limits import Rate, limits_expiry, open_rate_limit
from common.mongo import ping, service_database
from common.service import create_service_app


def create_app(settings: AuthSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_database(app, settings) as db, running(limits_expiry(db)):
            app.state.users = UserStore(db)
            await app.state.users.create_indexes()
            app.state.sign_in_failures = await open_rate_limit(
                db,
                "sign-in-failures",
                Rate(settings.signin_failure_limit_burst, settings.signin_failure_limit_interval),
                "too many failed sign-ins for this account",
            )
            app.state.passwords = PasswordHasher(settings.bcrypt_rounds)
            app.state.tokens = TokenIssuer(
                settings.jwt_private_key_file.read_bytes(),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                ttl=settings.access_token_ttl,
            )
            yield

    app = create_service_app(
        name="auth",
        title="Stack Overflow Lite: auth",
        log_level=settings.log_level,
        lifespan=lifespan,
        readiness=lambda app: {"mongo": lambda: ping(app.state.mongo)},
    )
    app.include_router(router)
    return app
