import pytest
from pydantic import ValidationError

from cleaner_worker.settings import CleanerSettings
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
