"""``python -m notification_service`` serves the API and consumes PostCreated events."""

from common.server import serve
from notification_service.app import create_app
from notification_service.settings import NotificationSettings

settings = NotificationSettings()
serve(create_app(settings), settings.host, settings.port)
