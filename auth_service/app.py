from contextlib import asynccontextmanager

from fastapi import FastAPI

from auth_service.api import router
from auth_service.passwords import PasswordHasher
from auth_service.settings import AuthSettings
from auth_service.store import UserStore
from auth_service.tokens import TokenIssuer
from common.mongo import connect_mongo, ping, wait_for_mongo
from common.service import create_service_app


def create_app(settings: AuthSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        mongo = connect_mongo(settings.mongo_url)
        app.state.mongo = mongo
        await wait_for_mongo(mongo)
        app.state.users = UserStore(mongo[settings.mongo_db])
        await app.state.users.create_indexes()
        app.state.passwords = PasswordHasher(settings.bcrypt_rounds)
        app.state.tokens = TokenIssuer(
            settings.jwt_private_key_file.read_bytes(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=settings.access_token_ttl,
        )
        yield
        await mongo.close()

    app = create_service_app(
        name="auth",
        title="Stack Overflow Lite: auth",
        log_level=settings.log_level,
        lifespan=lifespan,
        readiness=lambda app: {"mongo": lambda: ping(app.state.mongo)},
    )
    app.include_router(router)
    return app
