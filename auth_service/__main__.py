"""``python -m auth_service`` serves the API; ``python -m auth_service keygen`` makes dev keys."""

import sys

from auth_service.app import create_app
from auth_service.settings import AuthSettings
from auth_service.tokens import ensure_key_pair
from common.server import serve


def main() -> None:
    settings = AuthSettings()
    if sys.argv[1:] == ["keygen"]:
        private, public = settings.jwt_private_key_file, settings.jwt_public_key_file
        created = ensure_key_pair(private, public)
        print(f"{'created' if created else 'kept'} {private}, {public}")
        return
    serve(create_app(settings), settings.host, settings.port)


main()
