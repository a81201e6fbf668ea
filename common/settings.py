"""One settings pattern for every process.

Variables are not prefixed per service: each process gets its own environment (a Procfile line,
a compose service, a Kubernetes Deployment), so ``MONGO_URL`` means "this service's database"
wherever it is read.
"""

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Self

from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _seconds(value: object) -> object:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        return float(value)
    return value


# A duration read from the environment as seconds ("3600"); ISO 8601 ("PT1H") works too. Every
# field bounds its own (``Field(ge=..., le=...)``), so "0" or "-5" fails at start-up, by name.
Seconds = Annotated[timedelta, BeforeValidator(_seconds)]


class ServiceSettings(BaseSettings):
    """Fields every service process reads."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # Fields whose defaults are development credentials: outside development they must be set.
    dev_only_defaults: ClassVar[tuple[str, ...]] = ()

    environment: Literal["development", "production"] = "development"
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8000
    # The local stand-in (secantusdb) keeps a record per retryable write and scans all of them
    # on every write, so writes slow down with traffic; a standalone mongod (compose, the
    # Kubernetes manifests) does not do retryable writes at all. Our writes are idempotent.
    mongo_url: str = "mongodb://127.0.0.1:27017/?retryWrites=false"
    mongo_db: str

    @model_validator(mode="after")
    def _refuse_dev_credentials(self) -> Self:
        if self.environment == "development":
            return self
        left = [
            name.upper()
            for name in self.dev_only_defaults
            if getattr(self, name) == type(self).model_fields[name].default
        ]
        if left:
            raise ValueError(f"set {', '.join(left)}: the defaults are for development only")
        return self


class TokenSettings(BaseSettings):
    """What a service needs to verify the access tokens that auth_service mints."""

    jwt_public_key_file: Path = Path(".data/keys/jwt_public.pem")
    jwt_issuer: str = "soflite-auth"
    jwt_audience: str = "soflite"


class BrokerSettings(BaseSettings):
    """Where events go: one durable topic exchange on RabbitMQ."""

    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    events_exchange: str = "soflite.events"


class RetentionSettings(BaseSettings):
    """How long a notification lives, from its post's creation: the cleaner deletes it then, and
    the notification service makes none for an older post (so nothing it deletes comes back)."""

    # Zero or less would have the next clean-up delete every notification.
    notification_max_age: Seconds = Field(
        default=timedelta(days=7), ge=timedelta(seconds=1), le=timedelta(days=365)
    )
