"""``python -m post_service`` serves the API (and runs this replica's outbox relay)."""

from common.server import serve
from post_service.app import create_app
from post_service.settings import PostSettings

settings = PostSettings()
serve(create_app(settings), settings.host, settings.port)
