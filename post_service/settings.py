from datetime import timedelta

from pydantic import Field

from common.settings import BrokerSettings, Seconds, ServiceSettings, TokenSettings


class PostSettings(ServiceSettings, TokenSettings, BrokerSettings):
    dev_only_defaults = ("rabbitmq_url", "s3_access_key", "s3_secret_key")

    port: int = 8002
    mongo_db: str = "posts"
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = "soflite-dev"
    s3_secret_key: str = "soflite-dev-secret"  # noqa: S105 (refused outside development)
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    s3_bucket: str = "snippets"
    # The relay also wakes on every new post; the poll only picks up what a replica left behind.
    outbox_poll_interval: Seconds = Field(
        default=timedelta(seconds=2), ge=timedelta(seconds=0.1), le=timedelta(hours=1)
    )
    # How long a claimed event is left to its relay before another replica may publish it.
    outbox_claim_timeout: Seconds = Field(
        default=timedelta(seconds=10), ge=timedelta(seconds=1), le=timedelta(hours=1)
    )
    # Posts per user, shared by every replica: a burst, then one more every interval.
    post_limit_burst: int = Field(default=10, ge=1, le=1_000_000)
    post_limit_interval: Seconds = Field(
        default=timedelta(seconds=6), ge=timedelta(milliseconds=1), le=timedelta(hours=1)
    )
    # Load shedding per replica (common/admission.py): at most this many posts being created at
    # once and twice as many waiting their turn; one that finds no room to wait, or waits longer
    # than post_max_wait, is refused (503, Retry-After).
    post_max_at_work: int = Field(default=16, ge=1, le=10_000)
    post_max_wait: Seconds = Field(
        default=timedelta(milliseconds=500), ge=timedelta(0), le=timedelta(minutes=1)
    )
