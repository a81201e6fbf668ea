import pytest
from pydantic import ValidationError

from auth_service.settings import AuthSettings
from cleaner_worker.settings import CleanerSettings
from devstack.stack import GENEROUS_LIMITS
from notification_service.settings import NotificationSettings
from post_service.settings import PostSettings


def test_development_runs_on_defaults():
    assert PostSettings(environment="development").rabbitmq_url.startswith("amqp://guest")


@pytest.mark.parametrize("settings_class", [PostSettings, NotificationSettings, CleanerSettings])
def test_production_refuses_default_credentials(settings_class):
    with pytest.raises(ValidationError, match="RABBITMQ_URL"):
        settings_class(environment="production")


def test_production_refuses_default_object_store_keys():
    with pytest.raises(ValidationError, match="S3_ACCESS_KEY, S3_SECRET_KEY"):
        PostSettings(environment="production", rabbitmq_url="amqp://app:s3cret@mq:5672/")


def test_production_starts_with_real_credentials():
    settings = PostSettings(
        environment="production",
        rabbitmq_url="amqp://app:s3cret@mq:5672/",
        s3_access_key="k",
        s3_secret_key="s",
    )
    assert settings.environment == "production"


def test_durations_read_as_seconds(monkeypatch):
    monkeypatch.setenv("CLEANER_INTERVAL", "90")
    monkeypatch.setenv("NOTIFICATION_MAX_AGE", "3600")
    settings = CleanerSettings()
    assert settings.cleaner_interval.total_seconds() == 90
    assert settings.notification_max_age.total_seconds() == 3600


@pytest.mark.parametrize(
    ("settings_class", "variable", "too_large"),
    [
        (AuthSettings, "ACCESS_TOKEN_TTL", "86401"),
        (AuthSettings, "BCRYPT_ROUNDS", "17"),
        (AuthSettings, "SIGNIN_FAILURE_LIMIT_BURST", "1000001"),
        (AuthSettings, "SIGNIN_FAILURE_LIMIT_INTERVAL", "3601"),
        (PostSettings, "POST_LIMIT_BURST", "1000001"),
        (PostSettings, "POST_LIMIT_INTERVAL", "3601"),
        (NotificationSettings, "NOTIFICATION_WRITE_LIMIT_BURST", "1000001"),
        (NotificationSettings, "NOTIFICATION_WRITE_LIMIT_INTERVAL", "3601"),
        (NotificationSettings, "STREAMS_PER_USER", "100001"),
        (PostSettings, "OUTBOX_POLL_INTERVAL", "3601"),
        (PostSettings, "OUTBOX_CLAIM_TIMEOUT", "3601"),
        (NotificationSettings, "NOTIFICATION_MAX_AGE", str(366 * 86400)),
        (NotificationSettings, "DELIVERY_LIMIT", "101"),
        (NotificationSettings, "CONSUMER_PREFETCH", "1001"),
        (CleanerSettings, "CLEANER_INTERVAL", "3601"),
        (CleanerSettings, "NOTIFICATION_MAX_AGE", str(366 * 86400)),
        (CleanerSettings, "CLEANER_BATCH_SIZE", "10001"),
    ],
)
@pytest.mark.parametrize("kind", ["zero", "negative", "too large"])
def test_durations_and_sizes_out_of_range_stop_start_up_by_name(
    monkeypatch, settings_class, variable, too_large, kind
):
    """NOTIFICATION_MAX_AGE=0, say, would have the next clean-up delete every notification."""
    monkeypatch.setenv(variable, {"zero": "0", "negative": "-5", "too large": too_large}[kind])
    with pytest.raises(ValidationError, match=rf"(?i)\b{variable}\n.*(greater|less) than") as error:
        settings_class()
    assert error.value.error_count() == 1


def test_the_shortest_durations_the_test_stacks_use_are_accepted(monkeypatch):
    for variable, value in {
        "NOTIFICATION_MAX_AGE": "1",
        "CLEANER_INTERVAL": "1",
        "OUTBOX_POLL_INTERVAL": "0.2",
        "OUTBOX_CLAIM_TIMEOUT": "1",
        "ACCESS_TOKEN_TTL": "60",
    }.items():
        monkeypatch.setenv(variable, value)
    assert CleanerSettings().notification_max_age.total_seconds() == 1
    assert PostSettings().outbox_poll_interval.total_seconds() == 0.2
    assert AuthSettings().access_token_ttl.total_seconds() == 60


def test_the_generous_limits_of_the_test_stacks_and_bench_are_accepted(monkeypatch):
    for variable, value in GENEROUS_LIMITS.items():
        monkeypatch.setenv(variable, value)
    assert PostSettings().post_limit_burst == 1_000_000
    assert PostSettings().post_max_at_work == 10_000
    assert NotificationSettings().streams_per_user == 1000
    assert AuthSettings().signin_failure_limit_interval.total_seconds() == 0.001
